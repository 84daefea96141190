# The three crosstrain images. `include k8s/images.mk` from the Makefile, then:
#   make images                                   # build and push all three
#   make images REGISTRY=registry.example.com/ml TAG=dev DOCKER=podman
# REGISTRY and TAG must agree with params `cluster.images` (the tag defaults to the package version).
REGISTRY ?= ghcr.io/crosstrain
TAG ?= $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
DOCKER ?= docker
IMAGE_KINDS := base tensorflow pytorch

.PHONY: images images-build images-push

images: images-build images-push ## Build and push the crosstrain images (REGISTRY, TAG)

images-build: $(IMAGE_KINDS:%=image-%)

# Pattern rules cannot be .PHONY; FORCE makes them always run.
image-%: FORCE
	DOCKER_BUILDKIT=1 $(DOCKER) build --file docker/$*.Dockerfile --tag $(REGISTRY)/crosstrain-$*:$(TAG) .

images-push: images-build
	@for kind in $(IMAGE_KINDS); do $(DOCKER) push $(REGISTRY)/crosstrain-$$kind:$(TAG) || exit 1; done
FORCE:
