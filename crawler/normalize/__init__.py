"""Pure core: response records to rows, and the output schemas. Imports nothing that does I/O."""

from crawler.normalize.flatten import SOURCE_NOVA_PROXY, flatten_nova_image
from crawler.normalize.schema import ERRORS_SCHEMA, IMAGES_SCHEMA, SCHEMA_VERSION

__all__ = [
    "ERRORS_SCHEMA",
    "IMAGES_SCHEMA",
    "SCHEMA_VERSION",
    "SOURCE_NOVA_PROXY",
    "flatten_nova_image",
]
