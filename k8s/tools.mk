# Tools kept out of .venv (checkov's pins would fight mlflow's and kfp's). `include k8s/tools.mk` from
# the Makefile, then:
#   make scan             # checkov over every rendered kustomization and every Dockerfile
# tests/k8s/test_checkov.py runs the same scan; a check that does not apply is skipped in the object
# itself, with its reason (a checkov.io/skipN annotation, or a `# checkov:skip=` line in a Dockerfile).
TOOLS_VENV := .venv-tools
TOOLS_PYTHON ?= python3
CHECKOV_VERSION := 3.3.30
CHECKOV := $(TOOLS_VENV)/bin/checkov
CHECKOV_FLAGS := --compact --quiet --skip-download
KUBECTL ?= kubectl
KUSTOMIZATIONS := base overlays/local overlays/gpu trainer

.PHONY: scan

# Rebuilt when this file changes (a new CHECKOV_VERSION).
$(TOOLS_VENV)/.installed: k8s/tools.mk
	@test -x $(TOOLS_VENV)/bin/python || $(TOOLS_PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python -m pip install --quiet "checkov==$(CHECKOV_VERSION)"
	@touch $@

scan: $(TOOLS_VENV)/.installed ## checkov: rendered kustomizations (k8s/) and Dockerfiles (docker/)
	@out="$$(mktemp -d)" && trap 'rm -rf "$$out"' EXIT && status=0 && \
	for k in $(KUSTOMIZATIONS); do \
	  $(KUBECTL) kustomize "k8s/$$k" > "$$out/$$(basename $$k).yaml" || exit 1; \
	done && \
	for f in "$$out"/*.yaml; do set -- "$$@" -f "$$f"; done && \
	{ $(CHECKOV) "$$@" --framework kubernetes $(CHECKOV_FLAGS) || status=1; } && \
	{ $(CHECKOV) $(addprefix -f ,$(wildcard docker/*.Dockerfile)) --framework dockerfile $(CHECKOV_FLAGS) \
	  || status=1; } && \
	exit $$status
