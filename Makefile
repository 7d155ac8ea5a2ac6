# Two commands do everything on a fresh Debian/Ubuntu machine:
#   make demo   installs what is needed and turns the sample clip into a page
#   make test   installs what is needed and runs every check (lint, tests, Terraform)

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
# chromium: the status page's browser test (driven by the playwright package, no download)
DEBIAN_PACKAGES := ffmpeg tesseract-ocr tesseract-ocr-eng espeak-ng fonts-dejavu-core chromium
SAMPLE := samples/cooking-demo.mp4

.PHONY: demo test install system-packages python-packages emulators lint pytest \
	terraform-check bench chaos cloud-demo cloud-chaos sample clean

demo: install
	$(BIN)/svp process $(SAMPLE) --tag cooking

test: install emulators lint pytest terraform-check

install: system-packages python-packages

system-packages:
	@missing="$$(for p in $(DEBIAN_PACKAGES); do \
		dpkg -s $$p >/dev/null 2>&1 || echo $$p; done)"; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages: $$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Reinstalled only when the package's dependencies change.
$(VENV)/.installed: shared/pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e 'shared[dev]'
	touch $@

python-packages: $(VENV)/.installed

# Google's own Firestore and Pub/Sub emulators (the tests and the local cloud run them): the
# Google Cloud CLI's emulator components, on Java. Installed from Google's apt repository where
# it is configured; otherwise this says what to install.
EMULATOR_PACKAGES := google-cloud-cli google-cloud-cli-firestore-emulator \
	google-cloud-cli-pubsub-emulator openjdk-17-jre-headless
emulators:
	@missing="$$(for p in $(EMULATOR_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done)"; \
	if [ -n "$$missing" ]; then \
		echo "Installing the emulators: $$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null || { \
		echo "Could not install $$missing: add Google Cloud's apt repository" \
			"(https://cloud.google.com/sdk/docs/install#deb) and run make again." >&2; exit 1; }; \
	fi

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports .importlinter

pytest: $(VENV)/.installed
	$(BIN)/python -m pytest

terraform-check:
	bash terraform/check.sh

bench: install
	$(BIN)/python bench/process.py
	$(BIN)/python bench/imports.py
	$(BIN)/python bench/ssrf.py

# The randomized fault suite over 300 seeds (about an hour on 2 cores): the table of
# scenarios and violations by kind; `python bench/chaos.py --seed N` reruns one.
chaos: install
	$(BIN)/python bench/chaos.py --seeds 300

# The Google Cloud deployment on this machine (tests/localcloud): every function from its own
# requirements.txt in a virtual environment of its own, on Google's Firestore and Pub/Sub
# emulators; the sample saved as a link in a fake Notion becomes a page.
cloud-demo: install emulators
	$(BIN)/python -m tests.localcloud.demo

# The randomized fault suite against the local cloud (function kills, a writer held past its
# timeout, duplicate deliveries, Notion and LLM faults): 80-100 s a seed, about 2.5 hours for
# 100 seeds on two cores.
cloud-chaos: install emulators
	$(BIN)/python bench/chaos.py --cloud --seeds 100 --jobs 1

# Regenerate the sample clip (speech by espeak-ng, on-screen text by ffmpeg drawtext).
sample: install
	$(BIN)/python -m tests.clipgen_sample $(SAMPLE)

clean:
	rm -rf $(VENV) .svp .venv-checkov .localcloud
