"""The RestoreLab web app's building blocks (Gradio tabs, model store, request pipeline).

No maths lives here: every number comes from ``restorelab`` (inference, metrics,
degradations). Importing this package is cheap: torch, OpenCV, SciPy and plotly are only
imported when a request needs them, so the app starts fast.
"""
