"""Click commands that live in their own modules; ``crawler.cli`` registers them."""
