"""`hf serve`: a local web studio and HTTP API over one loaded model.

engine.py (the model: prompt → glb bytes), worker.py (the queue and its policy, the mesh store),
app.py (the FastAPI app: page, API, errors), server.py (the port and uvicorn), static/ (the
page and the vendored <model-viewer>). The command itself is hfcli/cli/serve.py.
"""
