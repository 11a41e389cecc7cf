"""One module per vendor (httpx, no Qt) plus ``local`` (the offline engine)."""
