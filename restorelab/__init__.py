"""RestoreLab: see, train and shrink image-restoration networks on a CPU."""

from restorelab.errors import RestoreLabError

__version__ = "0.1.0"
__all__ = ["RestoreLabError", "__version__"]
