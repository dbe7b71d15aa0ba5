-- Finding old generations (issue 13): favorites, the filters' indexes, and full-text
-- search over prompts. The same as SQLite's 0020.
ALTER TABLE generations ADD COLUMN favorite INTEGER NOT NULL DEFAULT 0 CHECK (favorite IN (0, 1));
CREATE INDEX generations_user_favorite ON generations (user_id, created_at DESC, id DESC) WHERE favorite = 1;
CREATE INDEX generations_user_resolution ON generations (user_id, resolution, created_at DESC, id DESC);
CREATE INDEX generations_user_aspect ON generations (user_id, aspect_ratio, created_at DESC, id DESC);
-- Mode: image-to-image only (a tenth of a history, or less); text-to-image is most of
-- every history, found among the newest rows, and an index of it would cost as much as
-- generations_user_created for nothing.
CREATE INDEX generations_user_i2i ON generations (user_id, created_at DESC, id DESC) WHERE generation_mode = 'image-to-image';

-- Prompts' words: the 'simple' text search configuration (no stemming, no stop words),
-- over the prompt folded as SQLite's unicode61 tokenizer with remove_diacritics 2 folds
-- it: lower case (Latin, Latin-1 and Extended-A, Cyrillic) and the Latin accents removed
-- (Ё and Й stay themselves, as in SQLite). The fold is spelled out rather than left to
-- lower() and unaccent: lower() follows the database's locale (C folds ASCII only), and
-- unaccent is an extension an operator may not be allowed to create. The GIN index is
-- built over the rows already there.
CREATE FUNCTION nanobanana_fold(t text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT translate(t,
        'ABCDEFGHIJKLMNOPQRSTUVWXYZÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞàáâãäåçèéêëìíîïñòóôõöùúûüýÿĀāĂăĄąĆćĈĉĊċČčĎďĐĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĦĨĩĪīĬĭĮįİĲĴĵĶķĹĺĻļĽľĿŁŃńŅņŇňŊŌōŎŏŐőŒŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŦŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžЀЁЂЃЄЅІЇЈЉЊЋЌЍЎЏАБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ',
        'abcdefghijklmnopqrstuvwxyzaaaaaaæceeeeiiiiðnoooooøuuuuyþaaaaaaceeeeiiiinooooouuuuyyaaaaaaccccccccddđeeeeeeeeeegggggggghhħiiiiiiiiiĳjjkkllllllŀłnnnnnnŋooooooœrrrrrrssssssssttttŧuuuuuuuuuuuuwwyyyzzzzzzѐёђѓєѕіїјљњћќѝўџабвгдежзийклмнопрстуфхцчшщъыьэюя')
$$;
-- A generation's search vector: its owner's token ("u" and the user id, weight A) and
-- its prompt's words (weight D). A search matches the owner's token with the words (the
-- words with weight D only), so the GIN index gives the searching user's rows, not every
-- user's who wrote the word, as SQLite's owner column does.
CREATE FUNCTION nanobanana_search_vector(owner bigint, prompt text) RETURNS tsvector
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT setweight(to_tsvector('simple', 'u' || owner::text), 'A') || to_tsvector('simple', nanobanana_fold(prompt))
$$;
-- Stored, not only indexed: the vector's words carry no weights in the GIN index, so
-- every candidate row is checked again against its vector, and computing it (the fold,
-- then the parser) took 150 µs a row. Computed once here for the rows already there.
ALTER TABLE generations ADD COLUMN search_vector tsvector
    GENERATED ALWAYS AS (nanobanana_search_vector(user_id, prompt)) STORED;
CREATE INDEX generations_prompt_search ON generations USING gin (search_vector);
