import { describe, expect, it } from 'vitest';
import { ddlStatements } from './ddl.js';

describe('ddlStatements', () => {
  it('finds each CREATE and DROP with its object kind, whatever the modifiers and case (temporary objects left out)', () => {
    expect(
      ddlStatements(`
        CREATE TABLE IF NOT EXISTS a (id int);
        create unlogged table b (id int);  create temp table c (x int);
        create unique index concurrently a_id on a (id);
        create or replace view v as select 1;
        Create Materialized View mv as select 1;
        drop materialized view mv; drop table if exists a, b cascade;
        create function f() returns int language sql as 'select 1';
        select 1; insert into a values (1)
      `),
    ).toEqual([
      { action: 'create', object: 'table' },
      { action: 'create', object: 'table' },
      { action: 'create', object: 'index' },
      { action: 'create', object: 'view' },
      { action: 'create', object: 'materialized_view' },
      { action: 'drop', object: 'materialized_view' },
      { action: 'drop', object: 'table' },
      { action: 'create', object: 'other' },
    ]);
  });

  it("leaves out the objects PGlite's live queries create and drop for each subscription, on PGlite only", () => {
    const sql = `
        CREATE OR REPLACE TEMP VIEW live_query_1a2b_view AS select 1;
        CREATE TEMP TABLE live_query_1a2b_state1 (LIKE live_query_1a2b_view INCLUDING ALL);
        CREATE OR REPLACE FUNCTION "_notify_2200_16384"() RETURNS TRIGGER AS $$ begin return null; end $$ language plpgsql;
        CREATE OR REPLACE TRIGGER "_notify_trigger_2200_16384" AFTER INSERT ON t FOR EACH STATEMENT EXECUTE FUNCTION "_notify_2200_16384"();
        DROP VIEW IF EXISTS live_query_1a2b_view; DROP TABLE IF EXISTS live_query_1a2b_state1;
        create view live_queries as select 1; drop table if exists "Orders"
      `;
    expect(ddlStatements(sql, { liveQueryObjects: true })).toEqual([
      { action: 'create', object: 'view' },
      { action: 'drop', object: 'table' },
    ]);
    // On PostgreSQL such names are the application's own: only the temporary objects are left out
    // (a DROP does not say whether its object was temporary, so it is counted).
    expect(ddlStatements(sql)).toEqual([
      { action: 'create', object: 'other' },
      { action: 'create', object: 'other' },
      { action: 'drop', object: 'view' },
      { action: 'drop', object: 'table' },
      { action: 'create', object: 'view' },
      { action: 'drop', object: 'table' },
    ]);
  });

  it('is not fooled by semicolons and keywords inside literals, identifiers, comments and dollar quotes', () => {
    expect(
      ddlStatements(`
        -- create table commented; out
        /* drop view /* nested */ still a comment; */ create table t (note text default 'x; drop table t');
        insert into t values (E'it\\'s; create view no'), ('a''b; drop index no');
        create table "semi;colon" (x int);
        create function g() returns text language plpgsql as $body$ begin; drop table inside; end $body$;
        select $1::text; drop index i
      `),
    ).toEqual([
      { action: 'create', object: 'table' },
      { action: 'create', object: 'table' },
      { action: 'create', object: 'other' },
      { action: 'drop', object: 'index' },
    ]);
  });

  it('reads comments between the keywords as whitespace, as PostgreSQL does', () => {
    expect(
      ddlStatements(`
        create /* x */ table t1 (id int);
        create -- why
          unlogged /* a */ table t2 (id int);
        create/**/or/**/replace/**/view v as select 1;
        drop -- gone
        materialized view mv;
        create or /* not replace */ table nope (id int)
      `),
    ).toEqual([
      { action: 'create', object: 'table' },
      { action: 'create', object: 'table' },
      { action: 'create', object: 'view' },
      { action: 'drop', object: 'materialized_view' },
    ]);
    expect(ddlStatements('create1 table t (id int); createtable t (id int)')).toEqual([]);
  });

  it('finds nothing in queries that are not DDL', () => {
    expect(ddlStatements('select * from t where created = $1')).toEqual([]);
    expect(ddlStatements('')).toEqual([]);
    expect(ddlStatements('update created set dropped = true')).toEqual([]);
  });
});
