"""Gates: plain processes with exit codes (k6 for performance), judged by the pipeline."""
