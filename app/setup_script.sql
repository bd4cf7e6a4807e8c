-- Setup script of the snowmesh governance Native App. It runs in the consumer's account on every
-- install and upgrade, so each statement is idempotent. It creates:
--   application roles APP_VIEWER (product health, read the registry and audit) and
--                     APP_ADMIN  (also validates products and maintains the registry);
--   schema CATALOG (plain: state that must survive upgrades) with the product registry
--     DATA_PRODUCTS and the append-only audit VALIDATION_RESULTS;
--   versioned schema CORE (code, replaced as a whole on upgrade) with the procedures
--     VALIDATE_PRODUCT and PRODUCT_HEALTH -- the same interface and the same contract engine
--     (procedures/governance, shipped as python/procedures.zip) as the account-level ones.
-- Column lists mirror governance.product_health.REGISTRY_COLUMNS and
-- governance.validate.AUDIT_COLUMNS; tests/test_ship.py holds them together.

CREATE APPLICATION ROLE IF NOT EXISTS APP_VIEWER
  COMMENT = 'Reads data product health, the product registry and validation results';
CREATE APPLICATION ROLE IF NOT EXISTS APP_ADMIN
  COMMENT = 'Validates data products and maintains the product registry';
GRANT APPLICATION ROLE APP_VIEWER TO APPLICATION ROLE APP_ADMIN;

-- State: tables cannot live in a versioned schema, and must outlive upgrades.
CREATE SCHEMA IF NOT EXISTS CATALOG;
GRANT USAGE ON SCHEMA CATALOG TO APPLICATION ROLE APP_VIEWER;

CREATE TABLE IF NOT EXISTS CATALOG.DATA_PRODUCTS (
  "DOMAIN" VARCHAR NOT NULL,
  "PRODUCT" VARCHAR NOT NULL,
  "OWNER" VARCHAR,
  "VERSION" VARCHAR NOT NULL,
  "STATUS" VARCHAR,
  "VIEW_NAME" VARCHAR NOT NULL,
  "CONSUMERS" VARCHAR,
  "CONTRACT" VARCHAR NOT NULL
);
GRANT SELECT ON TABLE CATALOG.DATA_PRODUCTS TO APPLICATION ROLE APP_VIEWER;
GRANT INSERT, UPDATE, DELETE, TRUNCATE ON TABLE CATALOG.DATA_PRODUCTS TO APPLICATION ROLE APP_ADMIN;

-- Append-only: rows are written by VALIDATE_PRODUCT (running as the app), never by a role.
CREATE TABLE IF NOT EXISTS CATALOG.VALIDATION_RESULTS (
  "RUN_ID" VARCHAR NOT NULL,
  "PRODUCT" VARCHAR NOT NULL,
  "CONTRACT_VERSION" VARCHAR NOT NULL,
  "CHECK_NAME" VARCHAR NOT NULL,
  "COLUMN_NAME" VARCHAR,
  "OBSERVED" VARCHAR,
  "EXPECTED" VARCHAR,
  "PASSED" BOOLEAN NOT NULL,
  "SEVERITY" VARCHAR NOT NULL,
  "VALIDATED_AT" TIMESTAMP_NTZ NOT NULL
);
GRANT SELECT ON TABLE CATALOG.VALIDATION_RESULTS TO APPLICATION ROLE APP_VIEWER;

-- Code.
CREATE OR ALTER VERSIONED SCHEMA CORE;
GRANT USAGE ON SCHEMA CORE TO APPLICATION ROLE APP_VIEWER;

CREATE OR REPLACE PROCEDURE CORE.VALIDATE_PRODUCT(CONTRACT_JSON VARCHAR, TABLE_NAME VARCHAR, RUN_ID VARCHAR)
  RETURNS TABLE (CHECK_NAME VARCHAR, COLUMN_NAME VARCHAR, OBSERVED VARCHAR, EXPECTED VARCHAR, PASSED BOOLEAN, SEVERITY VARCHAR)
  LANGUAGE PYTHON
  RUNTIME_VERSION = '3.11'
  PACKAGES = ('snowflake-snowpark-python', 'jsonschema', 'sqlglot')
  IMPORTS = ('/python/procedures.zip', '/python/snowmesh_app.py')
  HANDLER = 'snowmesh_app.validate_product'
  COMMENT = 'Validate a table against a data contract (JSON); results are appended to CATALOG.VALIDATION_RESULTS';
GRANT USAGE ON PROCEDURE CORE.VALIDATE_PRODUCT(VARCHAR, VARCHAR, VARCHAR) TO APPLICATION ROLE APP_ADMIN;

CREATE OR REPLACE PROCEDURE CORE.PRODUCT_HEALTH()
  RETURNS TABLE (DOMAIN VARCHAR, PRODUCT VARCHAR, VERSION VARCHAR, STATUS VARCHAR, VIEW_NAME VARCHAR, PUBLISHED BOOLEAN, ROW_COUNT NUMBER(18,0), FRESHNESS_HOURS NUMBER(12,2), SLA_HOURS NUMBER(12,2), FRESH BOOLEAN, LAST_VALIDATION VARCHAR, LAST_VALIDATED_AT VARCHAR, CONSUMERS VARCHAR)
  LANGUAGE PYTHON
  RUNTIME_VERSION = '3.11'
  PACKAGES = ('snowflake-snowpark-python', 'jsonschema', 'sqlglot')
  IMPORTS = ('/python/procedures.zip', '/python/snowmesh_app.py')
  HANDLER = 'snowmesh_app.product_health'
  COMMENT = 'One row per registered data product: version, last validation, freshness, row count, consumers';
GRANT USAGE ON PROCEDURE CORE.PRODUCT_HEALTH() TO APPLICATION ROLE APP_VIEWER;
