"""The distributed path's Spark Structured Streaming job and its spark-submit builder."""
