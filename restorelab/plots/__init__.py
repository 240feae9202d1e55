"""Plotly figure builders for the app and notebooks: pure functions, data in, ``go.Figure`` out.

No file or model access here; callers load the records (lottery rounds, GRIDS similarity,
OES curves) and pass plain Python data. Importing this package imports plotly.
"""

from restorelab.plots.figures import (
    distance_bar,
    layer_sparsity_bar,
    mask_picture,
    psnr_curves,
    psnr_vs_params,
    similarity_heatmap,
    sparsity_grid,
)

__all__ = ["distance_bar", "layer_sparsity_bar", "mask_picture", "psnr_curves", "psnr_vs_params", "similarity_heatmap", "sparsity_grid"]
