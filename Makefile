# Thin wrappers around dev.sh, which does the work (and runs where make is not installed).
.PHONY: setup demo test bench clean
setup:
	sh dev.sh setup
demo:
	sh dev.sh demo
test:
	sh dev.sh test
bench:
	sh dev.sh bench
clean:
	rm -rf out .pytest_cache
