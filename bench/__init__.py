"""calfeed's benchmark: `bench/run` measures serving, rendering, expansion, builds and memory."""
