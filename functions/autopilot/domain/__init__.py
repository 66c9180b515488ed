"""Shared value types: what the planners (``logic``), the stores (``store``) and the adapters
(``aws``) hand each other. Plain frozen data; nothing here imports a floor above it."""
