-- How each room's calls carry media: auto (mesh up to the limit, then SFU), mesh or sfu.
ALTER TABLE rooms ADD COLUMN call_topology TEXT NOT NULL DEFAULT 'auto'
    CHECK (call_topology IN ('auto', 'mesh', 'sfu'));
