-- Verdicts of the text classifier on captions, comments and direct messages (issue 8).
-- One table for the three kinds: the verdict is written once, after the text, by a different path.

CREATE TABLE text_verdicts (
    kind      text    NOT NULL CONSTRAINT text_verdicts_kind CHECK (kind IN ('post', 'comment', 'message')),
    object_id bigint  NOT NULL,
    score     real    NOT NULL,
    flagged   boolean NOT NULL,
    PRIMARY KEY (kind, object_id)
);
