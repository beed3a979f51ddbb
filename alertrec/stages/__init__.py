"""Pure stages: frames and plain values in, frames out. No paths, clocks, environment or I/O."""
