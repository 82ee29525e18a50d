-- COPY of the lineitem rows the view_bulk scenario's setup wrote to a file in the data directory
-- (into existing orders, l_linenumber >= 1e9), rolled back so that every repetition loads the
-- same rows; the view's maintenance runs at the end of the COPY, before the ROLLBACK.
BEGIN;
COPY lineitem FROM 'pm_view_bulk_lineitem.copy';
ROLLBACK;
