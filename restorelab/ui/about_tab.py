"""The About tab: what each tab shows and the papers behind it."""

from __future__ import annotations

import gradio as gr

ABOUT = """
### RestoreLab

See, train and shrink image-restoration networks on a CPU.

#### Restore
An *all-in-one* restorer (one network for noise, rain and haze) on your photo; two models side by
side; PSNR/SSIM when you simulate the degradation on a clean photo.
*Paper:* Potlapalli, Zamir, Khan, Khan, *PromptIR: Prompting for All-in-One Blind Image
Restoration*, NeurIPS 2023.

#### Lottery tickets
Sparse sub-networks of that restorer found by iterative magnitude pruning with rewinding: how
sparse each layer is, what sparsity costs in PSNR, and a live classroom experiment (winning
ticket vs random re-initialisation vs one-shot pruning).
*Papers:* Katraouras, Rafailidis, *Pruning Overparameterized Multi-Task Networks for Degraded Web
Image Restoration* (MIR-L); Frankle, Carbin, *The Lottery Ticket Hypothesis*, ICLR 2019.

#### GRIDS
Which degradations are alike, how they are grouped, and which group's model suits a new photo.
*Paper:* Cao, Liu, Zhang, Qiao, Dong, *GRIDS: Grouped Multiple-Degradation Restoration with Image
Degradation Similarity*, ECCV 2024.

#### OES
A deep image prior that denoises one photo with no training data, dense vs sparse.
*Papers:* Ghosh, Zhang, Sun, Qu, Ravishankar, Wang, *Optimal Eye Surgeon: Finding Image Priors
through Sparse Generators at Initialization*, ICML 2024; Ulyanov, Vedaldi, Lempitsky, *Deep Image
Prior*, CVPR 2018.

#### Notes
**Models.** The shipped models are small CPU-sized PromptIR variants trained here; their cards
(`weights/NAME.json`) say how. Everything runs on the CPU, or on a GPU where one is lent (a ZeroGPU Space).

**Measurements.** PSNR and SSIM are computed on the server's float RGB arrays in [0, 1] (no 8-bit
rounding, no border shave), never on the images your browser displays. Every image you see or
download is a lossless PNG.

**Scripting.** The named endpoints (`/restore`, `/lottery_demo`, `/grids_select`, `/oes_denoise`) work with
`gradio_client`: see "Use via API" at the bottom of the page.

**Example photos** come from scikit-image's bundled data (public domain / CC0); see
`examples/ATTRIBUTION.md`.
"""


def build() -> None:
    gr.Markdown(ABOUT, elem_id="rl-about")
