# Two entry points: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PIP := $(VENV)/bin/pip
CONSTRAINTS := constraints.txt

.PHONY: demo test install install-test bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# Stamp files make re-runs skip the install when nothing changed.
$(VENV)/.installed: $(VENV)/bin/python pyproject.toml $(CONSTRAINTS)
	$(PIP) install --quiet -c $(CONSTRAINTS) -e .
	touch $@

# The grad-cam peer (tests/test_explain_gradcam_peer.py) stays out of pyproject's extras: it requires
# torchvision (a CUDA build by default); --no-deps skips that and the test stubs its import-time names.
# cv2 is really used (imports and cv2.resize), so opencv-python-headless goes through the resolver.
$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install --quiet -c $(CONSTRAINTS) -e '.[test,peers]'
	$(PIP) install --quiet --no-deps grad-cam==1.5.7 ttach==0.0.3
	$(PIP) install --quiet -c $(CONSTRAINTS) opencv-python-headless==5.0.0.93
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# A few fast claims whose full protocol (10 seeds, gates, verdict) regenerates in minutes on 2 cores;
# --against checks that the regenerated per-seed numbers equal the committed evidence.
DEMO_CLAIMS := confident-learning-digits boundary-tilting-regularisation feature-shift-localisation dimco-retrieval gio-digits

demo: install
	$(VENV)/bin/trainlab check --all --quick --jobs 2 --out results
	$(VENV)/bin/trainlab check $(DEMO_CLAIMS) --jobs 2 --out results --against evidence
	$(VENV)/bin/trainlab report --out evidence

test: install-test
	$(VENV)/bin/python -m pytest

bench: install-test
	$(VENV)/bin/python benchmarks/optim_step.py

clean:
	rm -rf $(VENV) results
