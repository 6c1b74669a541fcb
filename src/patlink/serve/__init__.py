"""The review workbench over HTTP: :func:`create_app` (FastAPI) serving a :class:`patlink.review.ReviewService`."""

from patlink.serve.app import ServeLimits, create_app

__all__ = ["ServeLimits", "create_app"]
