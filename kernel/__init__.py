"""The kernel: what every layer stands on — configuration, the one error vocabulary, the loop probe."""
