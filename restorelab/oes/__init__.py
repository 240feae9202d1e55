"""OES: learned sparse masks for the deep image prior (Sparse-DIP), issue 5
(the DIP hourglass it prunes, its presets and fixed input: ``restorelab.models.dip``)

* ``mask``        which tensors are masked (every parameter, or conv weights only), random / magnitude masks (the selection
                  rules, top-k included, are ``restorelab.pruning``'s)
* ``learn``       OES mask learning (Gumbel-sigmoid samples, KL to Bernoulli(ρ), Adam on logits)
* ``sparse_dip``  masked DIP training, baselines (dense, random, magnitude, IMP), mask transfer
* ``maskfile``    bit-packed mask files with provenance; shipped masks in ``weights/``
* ``live``        a generator of snapshots for the app
* ``replay``      full-length runs recorded once and replayed instantly (the app's example photos)
* ``cli``         ``restorelab oes denoise | learn-mask | compare | record-replays``

Sub-modules import torch; this package file does not.
"""
