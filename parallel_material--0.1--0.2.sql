-- parallel_material--0.1--0.2.sql — what version 0.2 adds to 0.1 (ALTER EXTENSION parallel_material UPDATE).
-- 0.1's script is frozen: every object added or changed since goes here. A fresh CREATE EXTENSION
-- of 0.2 runs 0.1's script and then this one (PostgreSQL follows the update path when no full
-- script of the target version exists), so a fresh install and an upgrade run the same SQL.
-- The rules of 0.1's script hold here too: every function SET search_path = pg_catalog, pg_temp,
-- names qualified, internal functions revoked from PUBLIC.

\echo Use "ALTER EXTENSION parallel_material UPDATE TO '0.2'" to load this file. \quit
