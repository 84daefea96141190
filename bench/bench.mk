# bench targets of issues 6 and 12, included by the top-level Makefile (`include bench/bench.mk`).
.PHONY: bench-overhead bench-gpu

bench-overhead: venv ## crosstrain's train step vs a bare loop, and its models vs stock ones (mlp, cnn, bilstm, transformer; target <= 1.05x)
	$(BIN)/python bench/overhead.py

bench-gpu: venv ## Both frameworks on one CUDA GPU: device check, parity, step time, latency, memory, MFU (bench/README.md; --dry-run on a CPU)
	PYTHONPATH=src $(BIN)/python bench/gpu.py $(if $(DRY_RUN),--dry-run)
