"""Pure core: response records to rows, and the output schemas. Imports nothing that does I/O."""

from crawler.normalize.flatten import SOURCE_NOVA_PROXY, flatten_nova_image
from crawler.normalize.glance import SOURCE_GLANCE, flatten_glance_image
from crawler.normalize.schema import ERRORS_SCHEMA, IMAGES_SCHEMA, SCHEMA_VERSION

__all__ = [
    "ERRORS_SCHEMA",
    "IMAGES_SCHEMA",
    "SCHEMA_VERSION",
    "SOURCE_GLANCE",
    "SOURCE_NOVA_PROXY",
    "flatten_glance_image",
    "flatten_nova_image",
]
