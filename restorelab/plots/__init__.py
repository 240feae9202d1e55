"""Plotly figure builders for the app and notebooks: pure functions, data in, ``go.Figure`` out.

No file or model access here; callers load the records (lottery rounds, GRIDS similarity,
OES curves) and pass plain Python data. Importing this package imports plotly.
"""

from restorelab.plots.figures import (
    distance_bar,
    layer_sparsity_bar,
    psnr_curves,
    psnr_vs_params,
    similarity_heatmap,
)

__all__ = ["distance_bar", "layer_sparsity_bar", "psnr_curves", "psnr_vs_params", "similarity_heatmap"]
