"""`avdetect serve`: the HTTP service over the Detector (FastAPI app in app.py, job pool in
jobs.py, SQLite job store in store.py, streamed uploads in uploads.py). docs/service.md."""
