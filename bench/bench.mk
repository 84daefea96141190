# bench targets of issue 6, included by the top-level Makefile (`include bench/bench.mk`).
.PHONY: bench-overhead

bench-overhead: venv ## crosstrain's train step vs a bare loop of each framework, iris and images (target <= 1.05x)
	$(BIN)/python bench/overhead.py
