"""The language-model world: tokenizer, a GPT from scratch, an offline corpus and gold labelers."""
