"""howfast: how fast is my model, and why?"""

__version__ = "0.1.0"
