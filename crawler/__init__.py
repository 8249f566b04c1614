"""imagecrawler: crawl VM image details into typed, atomic Parquet/CSV snapshots."""

__version__ = "0.1.0"
