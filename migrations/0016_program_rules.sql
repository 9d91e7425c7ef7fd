-- A programme's rules, enforced at redemption: where its cheques are accepted (départements and
-- communes by INSEE code, separated by spaces; empty for the whole country) and which kinds of
-- help they pay for (empty for every kind). A programme made with a département keeps it as its
-- territory: "limited to the Gironde" now means it.
ALTER TABLE programs ADD COLUMN territory TEXT NOT NULL DEFAULT '';
ALTER TABLE programs ADD COLUMN services TEXT NOT NULL DEFAULT '';
UPDATE programs SET territory = department WHERE department IS NOT NULL;
