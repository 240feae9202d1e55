"""Image-quality metrics: PSNR and SSIM on float RGB images in [0, 1] (see ``psnr_ssim``)."""

from restorelab.metrics.psnr_ssim import psnr, psnr_from_mse, rgb_to_y, ssim

__all__ = ["psnr", "psnr_from_mse", "rgb_to_y", "ssim"]
