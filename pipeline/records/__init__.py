"""Release state and its pages: the journal, the deploy lock, the HTML page of a deploy."""
