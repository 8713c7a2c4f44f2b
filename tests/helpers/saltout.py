"""Reading what Salt's command lines print."""
from __future__ import annotations

import json


def json_documents(text: str) -> list:
    """Every JSON document in ``text``: ``salt-run --out=json`` prints progress events before the return."""
    decoder = json.JSONDecoder()
    documents, position = [], 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            return documents
        document, position = decoder.raw_decode(text, position)
        documents.append(document)
