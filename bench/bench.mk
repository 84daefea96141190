# bench targets of issues 6 and 12, included by the top-level Makefile (`include bench/bench.mk`).
.PHONY: bench-overhead

bench-overhead: venv ## crosstrain's train step vs a bare loop, and its models vs stock ones (mlp, cnn, bilstm, transformer; target <= 1.05x)
	$(BIN)/python bench/overhead.py
