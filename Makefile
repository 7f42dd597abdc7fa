# One-command entry points. `make demo` and `make test` work on a fresh machine with Python 3.10+.
VENV ?= .venv
PY := $(VENV)/bin/python
HF := $(VENV)/bin/hf
RUFF := $(VENV)/bin/ruff
DEMO := runs/demo

.PHONY: demo test install tools clean

demo: install
	$(HF) generate "a yarn bowl" --out $(DEMO)/yarn_bowl.glb --preview $(DEMO)/yarn_bowl.png
	$(HF) render default --prompt "a yarn bowl" --views 24 --out $(DEMO)/yarn_bowl.gif
	@echo "mesh: $(DEMO)/yarn_bowl.glb  preview: $(DEMO)/yarn_bowl.png  turntable: $(DEMO)/yarn_bowl.gif"

# Lint and format check first (ruff, configured in pyproject.toml), then the suite.
test: install tools
	$(RUFF) check .
	$(RUFF) format --check .
	$(PY) -m pytest -q

install: $(VENV)/.installed

# torch is pinned to the CPU build first, so nothing pulls a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[test]"
	# The C++ raymarcher, built ahead of time (half a minute); if it cannot be, hf falls back to PyTorch.
	$(PY) -m hfcli.render.backend --build || echo "C++ raymarcher not built: hf will use the PyTorch one"
	touch $@

# The Khronos glTF validator (npm package) for the mesh tests; skipped where npm is missing.
tools:
	@if command -v npm >/dev/null 2>&1; then \
		[ -d .tools/node_modules/gltf-validator ] || npm install --silent --prefix .tools gltf-validator; \
	else echo "npm not found: the glTF validator test will be skipped"; fi

clean:
	rm -rf $(VENV) .tools runs
