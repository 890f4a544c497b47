"""molremdm: property-steered molecule generation with masked diffusion and ReMDM sampling."""

__version__ = "0.1.0"
