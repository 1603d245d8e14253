"""Contract templates served by ``/v1/templates`` (Markdown, Chinese). Data only."""
