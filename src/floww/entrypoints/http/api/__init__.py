"""API routes under ``/api``, one module per noun; each exports ``ROUTES``."""
