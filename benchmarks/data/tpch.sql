-- benchmarks/data/tpch.sql — deterministic TPC-H-shaped data in plain SQL.
-- Sections start with "-- @step NAME"; benchmarks/bench.py runs them in order, reporting progress
-- per step, after substituting {sf} (scale factor, float), {seed} (int) and the row counts
-- {n_customer} {n_orders} {n_part} {n_supplier}. Every pseudo-random value is a hash of
-- (seed, stream, row id) via hashint8extended: the same seed gives the same data, and nothing
-- here calls random().
-- Cardinalities per TPC-H: customer 150000*SF, orders 1500000*SF, lineitem ~4 per order (1..7),
-- part 200000*SF, supplier 10000*SF, partsupp 4 per part, nation 25, region 5.

-- @step functions
CREATE SCHEMA IF NOT EXISTS bench;
-- uniform double in [0,1) for (stream s, row id): streams are distinct small ints per column.
CREATE OR REPLACE FUNCTION bench.r(s int, id bigint) RETURNS float8
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT (hashint8extended(id, {seed}::bigint * 1000 + s) & 2147483647)::float8 / 2147483648.0 $$;
-- uniform integer in [lo, hi]
CREATE OR REPLACE FUNCTION bench.ri(s int, id bigint, lo bigint, hi bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT lo + floor(bench.r(s, id) * (hi - lo + 1))::bigint $$;
-- pick one element of an array
CREATE OR REPLACE FUNCTION bench.pick(s int, id bigint, a text[]) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT a[1 + floor(bench.r(s, id) * array_length(a, 1))::int] $$;
-- filler text of 10..(10+w) characters from a fixed vocabulary (comments)
CREATE OR REPLACE FUNCTION bench.txt(s int, id bigint, w int) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT substr('furiously regular deposits sleep carefully after the quickly final pinto beans. '
                        'slyly ironic accounts wake blithely among the even packages; bold requests '
                        'haggle fluffily against the express foxes. careful theodolites nag quietly ',
                        1 + floor(bench.r(s, id) * 150)::int, 10 + floor(bench.r(s + 500, id) * w)::int) $$;
-- TPC-H's order date: uniform in [1992-01-01, 1998-08-02]
CREATE OR REPLACE FUNCTION bench.orderdate(okey bigint) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT date '1992-01-01' + floor(bench.r(1, okey) * 2406)::int $$;
-- TPC-H's part retail price
CREATE OR REPLACE FUNCTION bench.retailprice(pkey bigint) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT ((90000 + ((pkey / 10) % 20001) + 100 * (pkey % 1000)) / 100.0)::numeric(15,2) $$;
DROP TABLE IF EXISTS lineitem, orders, partsupp, part, customer, supplier, nation, region CASCADE;

-- @step region
CREATE TABLE region (r_regionkey int PRIMARY KEY, r_name char(25) NOT NULL, r_comment varchar(152));
INSERT INTO region
SELECT i, (ARRAY['AFRICA','AMERICA','ASIA','EUROPE','MIDDLE EAST'])[i + 1], bench.txt(2, i, 60)
FROM generate_series(0, 4) i;

-- @step nation
CREATE TABLE nation (n_nationkey int PRIMARY KEY, n_name char(25) NOT NULL,
                     n_regionkey int NOT NULL REFERENCES region, n_comment varchar(152));
INSERT INTO nation
SELECT i - 1, n[i], r[i], bench.txt(3, i, 60)
FROM (SELECT ARRAY['ALGERIA','ARGENTINA','BRAZIL','CANADA','EGYPT','ETHIOPIA','FRANCE','GERMANY',
                   'INDIA','INDONESIA','IRAN','IRAQ','JAPAN','JORDAN','KENYA','MOROCCO','MOZAMBIQUE',
                   'PERU','CHINA','ROMANIA','SAUDI ARABIA','VIETNAM','RUSSIA','UNITED KINGDOM',
                   'UNITED STATES'] AS n,
             ARRAY[0,1,1,1,4,0,3,3,2,2,4,4,2,4,0,0,0,1,2,3,4,2,3,3,1] AS r) c,
     generate_series(1, 25) i;

-- @step supplier
CREATE TABLE supplier (s_suppkey int NOT NULL, s_name char(25) NOT NULL, s_address varchar(40) NOT NULL,
                       s_nationkey int NOT NULL, s_phone char(15) NOT NULL, s_acctbal numeric(15,2) NOT NULL,
                       s_comment varchar(101) NOT NULL);
INSERT INTO supplier
SELECT i, 'Supplier#' || lpad(i::text, 9, '0'), bench.txt(10, i, 25), n,
       (n + 10) || '-' || bench.ri(11, i, 100, 999) || '-' || bench.ri(12, i, 100, 999) || '-' || bench.ri(13, i, 1000, 9999),
       bench.ri(14, i, -99999, 999999) / 100.0, bench.txt(15, i, 80)
FROM generate_series(1, {n_supplier}) i, LATERAL (SELECT bench.ri(16, i, 0, 24)::int AS n) x;
ALTER TABLE supplier ADD PRIMARY KEY (s_suppkey);

-- @step customer
CREATE TABLE customer (c_custkey int NOT NULL, c_name varchar(25) NOT NULL, c_address varchar(40) NOT NULL,
                       c_nationkey int NOT NULL, c_phone char(15) NOT NULL, c_acctbal numeric(15,2) NOT NULL,
                       c_mktsegment char(10) NOT NULL, c_comment varchar(117) NOT NULL);
INSERT INTO customer
SELECT i, 'Customer#' || lpad(i::text, 9, '0'), bench.txt(20, i, 25), n,
       (n + 10) || '-' || bench.ri(21, i, 100, 999) || '-' || bench.ri(22, i, 100, 999) || '-' || bench.ri(23, i, 1000, 9999),
       bench.ri(24, i, -99999, 999999) / 100.0,
       bench.pick(25, i, ARRAY['AUTOMOBILE','BUILDING','FURNITURE','MACHINERY','HOUSEHOLD']),
       bench.txt(26, i, 100)
FROM generate_series(1, {n_customer}) i, LATERAL (SELECT bench.ri(27, i, 0, 24)::int AS n) x;
ALTER TABLE customer ADD PRIMARY KEY (c_custkey);

-- @step part
CREATE TABLE part (p_partkey int NOT NULL, p_name varchar(55) NOT NULL, p_mfgr char(25) NOT NULL,
                   p_brand char(10) NOT NULL, p_type varchar(25) NOT NULL, p_size int NOT NULL,
                   p_container char(10) NOT NULL, p_retailprice numeric(15,2) NOT NULL, p_comment varchar(23) NOT NULL);
INSERT INTO part
SELECT i,
       bench.pick(30, i, ARRAY['almond','antique','aquamarine','azure','beige','bisque','black','blanched','blue','blush','brown','burlywood','chartreuse','chocolate','coral','cornflower','cream','cyan','dark','deep'])
         || ' ' || bench.pick(31, i, ARRAY['dim','dodger','drab','firebrick','floral','forest','frosted','gainsboro','ghost','goldenrod','green','grey','honeydew','hot','indian','ivory','khaki','lace','lavender','lawn'])
         || ' ' || bench.pick(32, i, ARRAY['lemon','light','lime','linen','magenta','maroon','medium','metallic','midnight','mint','misty','moccasin','navajo','navy','olive','orange','orchid','pale','papaya','peach']),
       'Manufacturer#' || m, 'Brand#' || m || bench.ri(33, i, 1, 5),
       bench.pick(34, i, ARRAY['STANDARD','SMALL','MEDIUM','LARGE','ECONOMY','PROMO'])
         || ' ' || bench.pick(35, i, ARRAY['ANODIZED','BURNISHED','PLATED','POLISHED','BRUSHED'])
         || ' ' || bench.pick(36, i, ARRAY['TIN','NICKEL','BRASS','STEEL','COPPER']),
       bench.ri(37, i, 1, 50),
       bench.pick(38, i, ARRAY['SM','LG','MED','JUMBO','WRAP']) || ' ' || bench.pick(39, i, ARRAY['CASE','BOX','BAG','JAR','PKG','PACK','CAN','DRUM']),
       bench.retailprice(i), bench.txt(40, i, 12)
FROM generate_series(1, {n_part}) i, LATERAL (SELECT bench.ri(41, i, 1, 5) AS m) x;
ALTER TABLE part ADD PRIMARY KEY (p_partkey);

-- @step partsupp
CREATE TABLE partsupp (ps_partkey int NOT NULL, ps_suppkey int NOT NULL, ps_availqty int NOT NULL,
                       ps_supplycost numeric(15,2) NOT NULL, ps_comment varchar(199) NOT NULL);
-- TPC-H's supplier spread: part p is supplied by suppliers (p + j*(S/4 + (p-1)/S)) mod S + 1, j = 0..3
INSERT INTO partsupp
SELECT p, ((p + j * ({n_supplier} / 4 + (p - 1) / {n_supplier})) % {n_supplier}) + 1,
       bench.ri(50, p * 4 + j, 1, 9999), bench.ri(51, p * 4 + j, 100, 100000) / 100.0, bench.txt(52, p * 4 + j, 150)
FROM generate_series(1, {n_part}) p, generate_series(0, 3) j;
ALTER TABLE partsupp ADD PRIMARY KEY (ps_partkey, ps_suppkey);

-- @step lineitem
CREATE TABLE lineitem (l_orderkey bigint NOT NULL, l_partkey int NOT NULL, l_suppkey int NOT NULL,
                       l_linenumber int NOT NULL, l_quantity numeric(15,2) NOT NULL,
                       l_extendedprice numeric(15,2) NOT NULL, l_discount numeric(15,2) NOT NULL,
                       l_tax numeric(15,2) NOT NULL, l_returnflag char(1) NOT NULL, l_linestatus char(1) NOT NULL,
                       l_shipdate date NOT NULL, l_commitdate date NOT NULL, l_receiptdate date NOT NULL,
                       l_shipinstruct char(25) NOT NULL, l_shipmode char(10) NOT NULL, l_comment varchar(44) NOT NULL);
-- 1..7 lines per order (mean 4); ship 1..121 days after the order, commit 30..90, receipt 1..30
-- after shipping; returnflag R/A when received by 1995-06-17 else N; linestatus O when shipped
-- after 1995-06-17 else F (TPC-H's CURRENTDATE).
INSERT INTO lineitem
SELECT o, pk, ((pk + sj * ({n_supplier} / 4 + (pk - 1) / {n_supplier})) % {n_supplier}) + 1, ln, q,
       q * bench.retailprice(pk), bench.ri(63, id, 0, 10) / 100.0, bench.ri(64, id, 0, 8) / 100.0,
       CASE WHEN rd <= date '1995-06-17' THEN bench.pick(65, id, ARRAY['R','A']) ELSE 'N' END,
       CASE WHEN sd > date '1995-06-17' THEN 'O' ELSE 'F' END,
       sd, od + bench.ri(66, id, 30, 90)::int, rd,
       bench.pick(67, id, ARRAY['DELIVER IN PERSON','COLLECT COD','NONE','TAKE BACK RETURN']),
       bench.pick(68, id, ARRAY['REG AIR','AIR','RAIL','SHIP','TRUCK','MAIL','FOB']),
       bench.txt(69, id, 30)
FROM generate_series(1, {n_orders}) o,
     LATERAL generate_series(1, bench.ri(60, o, 1, 7)::int) ln,
     LATERAL (SELECT o * 8 + ln AS id, bench.orderdate(o) AS od) a,
     LATERAL (SELECT bench.ri(61, id, 1, {n_part})::int AS pk, bench.ri(70, id, 0, 3) AS sj,
                     bench.ri(62, id, 1, 50)::numeric AS q, od + bench.ri(71, id, 1, 121)::int AS sd) b,
     LATERAL (SELECT sd + bench.ri(72, id, 1, 30)::int AS rd) c;

-- @step orders
CREATE TABLE orders (o_orderkey bigint NOT NULL, o_custkey int NOT NULL, o_orderstatus char(1) NOT NULL,
                     o_totalprice numeric(15,2) NOT NULL, o_orderdate date NOT NULL,
                     o_orderpriority char(15) NOT NULL, o_clerk char(15) NOT NULL,
                     o_shippriority int NOT NULL, o_comment varchar(79) NOT NULL);
-- customers whose key is a multiple of 3 place no orders (TPC-H); totalprice and status follow
-- from the order's lines.
INSERT INTO orders
SELECT l.l_orderkey, c, CASE WHEN l.nf = l.n THEN 'F' WHEN l.nf = 0 THEN 'O' ELSE 'P' END,
       l.tp, bench.orderdate(l.l_orderkey),
       bench.pick(80, l.l_orderkey, ARRAY['1-URGENT','2-HIGH','3-MEDIUM','4-NOT SPECIFIED','5-LOW']),
       'Clerk#' || lpad(bench.ri(81, l.l_orderkey, 1, greatest(1, {n_supplier} / 10))::text, 9, '0'),
       0, bench.txt(82, l.l_orderkey, 60)
FROM (SELECT l_orderkey, count(*) AS n, count(*) FILTER (WHERE l_linestatus = 'F') AS nf,
             sum(l_extendedprice * (1 + l_tax) * (1 - l_discount))::numeric(15,2) AS tp
      FROM lineitem GROUP BY l_orderkey) l,
     LATERAL (SELECT bench.ri(83, l.l_orderkey, 1, {n_customer})::int AS c0) x,
     LATERAL (SELECT CASE WHEN c0 % 3 = 0 THEN greatest(1, c0 - 1) ELSE c0 END AS c) y;

-- @step indexes
ALTER TABLE orders ADD PRIMARY KEY (o_orderkey);
ALTER TABLE lineitem ADD PRIMARY KEY (l_orderkey, l_linenumber);
CREATE INDEX lineitem_l_orderkey ON lineitem (l_orderkey);
CREATE INDEX orders_o_custkey ON orders (o_custkey);
CREATE INDEX orders_o_orderdate ON orders (o_orderdate);
CREATE INDEX partsupp_ps_suppkey ON partsupp (ps_suppkey);
CREATE INDEX customer_c_nationkey ON customer (c_nationkey);
CREATE INDEX supplier_s_nationkey ON supplier (s_nationkey);
-- the key range that insert scenarios use for new orders (removed after each measurement)
CREATE SEQUENCE IF NOT EXISTS bench.new_orderkey START 1000000000;

-- @step analyze
VACUUM (ANALYZE) region, nation, supplier, customer, part, partsupp, lineitem, orders;
