// The example's database work, shared by the demo service and `npm run bench:overhead`: a TPC-B-like
// bank (pgbench's schema and transaction) and a point select, for PGlite and for node-postgres.
import type { PGliteInterface } from '@electric-sql/pglite';
import type pg from 'pg';

export const SCHEMA = `
  create table if not exists branches (bid int primary key, bbalance int not null default 0);
  create table if not exists tellers (tid int primary key, bid int not null, tbalance int not null default 0);
  create table if not exists accounts (aid int primary key, bid int not null, abalance int not null default 0,
    owner text unique);
  create table if not exists history (tid int, bid int, aid int, delta int, mtime timestamptz);
  create index if not exists history_aid on history (aid);
`;

export interface BankSize {
  branches: number;
  tellersPerBranch: number;
  accountsPerBranch: number;
}

/** pgbench at a small scale: 1 branch, 10 tellers, 10,000 accounts. */
export const SMALL_BANK: BankSize = { branches: 1, tellersPerBranch: 10, accountsPerBranch: 10_000 };

/** Rows for `size`, inserted set-wise (one statement per table). */
export function fillStatements(size: BankSize): string[] {
  const { branches: b, tellersPerBranch: t, accountsPerBranch: a } = size;
  return [
    'truncate branches, tellers, accounts, history',
    `insert into branches (bid) select g from generate_series(1, ${b}) g`,
    `insert into tellers (tid, bid) select g, (g - 1) / ${t} + 1 from generate_series(1, ${b * t}) g`,
    `insert into accounts (aid, bid) select g, (g - 1) / ${a} + 1 from generate_series(1, ${b * a}) g`,
  ];
}

// pgbench's "TPC-B (sort of)" transaction, statement by statement.
export const TPCB = {
  updateAccount: 'update accounts set abalance = abalance + $1 where aid = $2',
  selectAccount: 'select abalance from accounts where aid = $1',
  updateTeller: 'update tellers set tbalance = tbalance + $1 where tid = $2',
  updateBranch: 'update branches set bbalance = bbalance + $1 where bid = $2',
  insertHistory: 'insert into history (tid, bid, aid, delta, mtime) values ($1, $2, $3, $4, now())',
};
export const POINT_SELECT = 'select abalance from accounts where aid = $1';

/** One random transfer: account, teller, branch and amount as pgbench draws them. */
export interface Transfer {
  aid: number;
  tid: number;
  bid: number;
  delta: number;
}

export function randomTransfer(size: BankSize, random: () => number = Math.random): Transfer {
  const bid = 1 + Math.floor(random() * size.branches);
  return {
    bid,
    aid: 1 + Math.floor(random() * size.branches * size.accountsPerBranch),
    tid: 1 + Math.floor(random() * size.branches * size.tellersPerBranch),
    delta: Math.floor(random() * 10_001) - 5000,
  };
}

export async function transferPGlite(db: PGliteInterface, t: Transfer): Promise<number> {
  return db.transaction(async (tx) => {
    await tx.query(TPCB.updateAccount, [t.delta, t.aid]);
    const balance = (await tx.query<{ abalance: number }>(TPCB.selectAccount, [t.aid])).rows[0]!.abalance;
    await tx.query(TPCB.updateTeller, [t.delta, t.tid]);
    await tx.query(TPCB.updateBranch, [t.delta, t.bid]);
    await tx.query(TPCB.insertHistory, [t.tid, t.bid, t.aid, t.delta]);
    return balance;
  });
}

export async function transferPg(client: pg.ClientBase, t: Transfer): Promise<number> {
  await client.query('begin');
  try {
    await client.query(TPCB.updateAccount, [t.delta, t.aid]);
    const balance = (await client.query<{ abalance: number }>(TPCB.selectAccount, [t.aid])).rows[0]!.abalance;
    await client.query(TPCB.updateTeller, [t.delta, t.tid]);
    await client.query(TPCB.updateBranch, [t.delta, t.bid]);
    await client.query(TPCB.insertHistory, [t.tid, t.bid, t.aid, t.delta]);
    await client.query('commit');
    return balance;
  } catch (error) {
    await client.query('rollback');
    throw error;
  }
}
