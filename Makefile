# mocap: `make demo` sets everything up and converts a bundled sample; `make test` runs the suite.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
OUT    := out/demo

.PHONY: demo test venv readers bench clean addon dist

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[blender,test,ray]"
	touch $@

venv: $(VENV)/.installed

# Independent readers (assimp, three.js) used by the export tests.
readers: venv
	bash scripts/install-readers.sh

demo: venv
	$(VENV)/bin/mocap convert samples/squats.mp4 -o $(OUT)/squats --format bvh,fbx,glb,usd,json
	@echo
	@echo "Demo outputs are in $(OUT)/:"
	@ls -1 $(OUT) | sed 's|^|  $(OUT)/|'

test: venv readers
	$(PY) -m pytest -q

bench: venv
	$(PY) benchmarks/bench_pipeline.py

# The Blender extension zip (dist/mocap-<version>.zip): `blender --command extension build`
# when a Blender 4.2+ is on PATH, else the same layout by hand (scripts/build_addon.py).
addon: venv
	$(PY) scripts/build_addon.py --out dist

# The engine's wheel and sdist (dist/mocap_video-<version>-py3-none-any.whl), for
# `pipx install dist/mocap_video-*.whl` (docs/addon.md).
dist: venv
	$(PY) -m pip install --quiet build
	$(PY) -m build --outdir dist .

clean:
	rm -rf out .pytest_cache dist build
