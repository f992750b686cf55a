-- Chatwoot's tables that the PostgreSQL import reads and writes, written
-- from Chatwoot's db/schema.rb at schema version 2025_08_16_044639
-- (ActiveRecord::Schema[7.1]; github.com/chatwoot/chatwoot db/schema.rb).
-- Columns, types, defaults, NOT NULLs and indexes are schema.rb's, as
-- Rails turns them into PostgreSQL:
--   t.string        character varying         t.text     text
--   t.integer       integer                   t.bigint   bigint
--   t.datetime      timestamp(6) (Rails 7's default precision)
--   t.datetime precision: nil     timestamp without time zone
--   id: :serial     serial primary key        (no id:)   bigserial primary key
-- Enum integers (Chatwoot's models):
--   messages.message_type   incoming 0, outgoing 1, activity 2, template 3
--   messages.content_type   text 0 (input_text 1, ... )
--   messages.status         sent 0, delivered 1, read 2, failed 3
--   messages.sender_type    'Contact' | 'User' | 'AgentBot' | NULL
--   conversations.status    open 0, resolved 1, pending 2, snoozed 3
--   inboxes.channel_type    'Channel::Api' for an API-channel inbox
-- conversations.display_id is numbered per account by Chatwoot's own
-- triggers (hair_trigger in schema.rb): a sequence conv_dpid_seq_<account>
-- made when the account is inserted, and a BEFORE INSERT trigger that takes
-- the next value.  Both are here, so a writer must work with them.
-- Left out: the tables the import never touches, and the extensions
-- pg_stat_statements and vector (no column here needs them).

CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE TABLE schema_migrations (
    version character varying NOT NULL PRIMARY KEY
);

CREATE TABLE ar_internal_metadata (
    key character varying NOT NULL PRIMARY KEY,
    value character varying,
    created_at timestamp(6) without time zone NOT NULL,
    updated_at timestamp(6) without time zone NOT NULL
);

CREATE TABLE accounts (
    id serial PRIMARY KEY,
    name character varying NOT NULL,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL,
    locale integer DEFAULT 0,
    domain character varying(100),
    support_email character varying(100),
    feature_flags bigint DEFAULT 0 NOT NULL,
    auto_resolve_duration integer,
    limits jsonb DEFAULT '{}'::jsonb,
    custom_attributes jsonb DEFAULT '{}'::jsonb,
    status integer DEFAULT 0,
    internal_attributes jsonb DEFAULT '{}'::jsonb NOT NULL,
    settings jsonb DEFAULT '{}'::jsonb
);
CREATE INDEX index_accounts_on_status ON accounts (status);

CREATE TABLE channel_api (
    id bigserial PRIMARY KEY,
    account_id integer NOT NULL,
    webhook_url character varying,
    created_at timestamp(6) without time zone NOT NULL,
    updated_at timestamp(6) without time zone NOT NULL,
    identifier character varying,
    hmac_token character varying,
    hmac_mandatory boolean DEFAULT false,
    additional_attributes jsonb DEFAULT '{}'::jsonb
);
CREATE UNIQUE INDEX index_channel_api_on_hmac_token ON channel_api (hmac_token);
CREATE UNIQUE INDEX index_channel_api_on_identifier ON channel_api (identifier);

CREATE TABLE inboxes (
    id serial PRIMARY KEY,
    channel_id integer NOT NULL,
    account_id integer NOT NULL,
    name character varying NOT NULL,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL,
    channel_type character varying,
    enable_auto_assignment boolean DEFAULT true,
    greeting_enabled boolean DEFAULT false,
    greeting_message character varying,
    email_address character varying,
    working_hours_enabled boolean DEFAULT false,
    out_of_office_message character varying,
    timezone character varying DEFAULT 'UTC',
    enable_email_collect boolean DEFAULT true,
    csat_survey_enabled boolean DEFAULT false,
    allow_messages_after_resolved boolean DEFAULT true,
    auto_assignment_config jsonb DEFAULT '{}'::jsonb,
    lock_to_single_conversation boolean DEFAULT false NOT NULL,
    portal_id bigint,
    sender_name_type integer DEFAULT 0 NOT NULL,
    business_name character varying,
    csat_config jsonb DEFAULT '{}'::jsonb NOT NULL
);
CREATE INDEX index_inboxes_on_account_id ON inboxes (account_id);
CREATE INDEX index_inboxes_on_channel_id_and_channel_type ON inboxes (channel_id, channel_type);
CREATE INDEX index_inboxes_on_portal_id ON inboxes (portal_id);

CREATE TABLE contacts (
    id serial PRIMARY KEY,
    name character varying DEFAULT '',
    email character varying,
    phone_number character varying,
    account_id integer NOT NULL,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL,
    additional_attributes jsonb DEFAULT '{}'::jsonb,
    identifier character varying,
    custom_attributes jsonb DEFAULT '{}'::jsonb,
    last_activity_at timestamp without time zone,
    contact_type integer DEFAULT 0,
    middle_name character varying DEFAULT '',
    last_name character varying DEFAULT '',
    location character varying DEFAULT '',
    country_code character varying DEFAULT '',
    blocked boolean DEFAULT false NOT NULL
);
CREATE INDEX index_contacts_on_lower_email_account_id ON contacts (lower((email)::text), account_id);
CREATE INDEX index_contacts_on_account_id_and_contact_type ON contacts (account_id, contact_type);
CREATE INDEX index_contacts_on_nonempty_fields ON contacts (account_id, email, phone_number, identifier)
    WHERE (((email)::text <> ''::text) OR ((phone_number)::text <> ''::text) OR ((identifier)::text <> ''::text));
CREATE INDEX index_contacts_on_account_id_and_last_activity_at ON contacts (account_id, last_activity_at DESC NULLS LAST);
CREATE INDEX index_contacts_on_account_id ON contacts (account_id);
CREATE INDEX index_resolved_contact_account_id ON contacts (account_id)
    WHERE (((email)::text <> ''::text) OR ((phone_number)::text <> ''::text) OR ((identifier)::text <> ''::text));
CREATE INDEX index_contacts_on_blocked ON contacts (blocked);
CREATE UNIQUE INDEX uniq_email_per_account_contact ON contacts (email, account_id);
CREATE UNIQUE INDEX uniq_identifier_per_account_contact ON contacts (identifier, account_id);
CREATE INDEX index_contacts_on_name_email_phone_number_identifier ON contacts
    USING gin (name gin_trgm_ops, email gin_trgm_ops, phone_number gin_trgm_ops, identifier gin_trgm_ops);
CREATE INDEX index_contacts_on_phone_number_and_account_id ON contacts (phone_number, account_id);

CREATE TABLE contact_inboxes (
    id bigserial PRIMARY KEY,
    contact_id bigint,
    inbox_id bigint,
    source_id character varying NOT NULL,
    created_at timestamp(6) without time zone NOT NULL,
    updated_at timestamp(6) without time zone NOT NULL,
    hmac_verified boolean DEFAULT false,
    pubsub_token character varying
);
CREATE INDEX index_contact_inboxes_on_contact_id ON contact_inboxes (contact_id);
CREATE UNIQUE INDEX index_contact_inboxes_on_inbox_id_and_source_id ON contact_inboxes (inbox_id, source_id);
CREATE INDEX index_contact_inboxes_on_inbox_id ON contact_inboxes (inbox_id);
CREATE UNIQUE INDEX index_contact_inboxes_on_pubsub_token ON contact_inboxes (pubsub_token);
CREATE INDEX index_contact_inboxes_on_source_id ON contact_inboxes (source_id);

CREATE TABLE conversations (
    id serial PRIMARY KEY,
    account_id integer NOT NULL,
    inbox_id integer NOT NULL,
    status integer DEFAULT 0 NOT NULL,
    assignee_id integer,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL,
    contact_id bigint,
    display_id integer NOT NULL,
    contact_last_seen_at timestamp without time zone,
    agent_last_seen_at timestamp without time zone,
    additional_attributes jsonb DEFAULT '{}'::jsonb,
    contact_inbox_id bigint,
    uuid uuid DEFAULT gen_random_uuid() NOT NULL,
    identifier character varying,
    last_activity_at timestamp without time zone DEFAULT CURRENT_TIMESTAMP NOT NULL,
    team_id bigint,
    campaign_id bigint,
    snoozed_until timestamp without time zone,
    custom_attributes jsonb DEFAULT '{}'::jsonb,
    assignee_last_seen_at timestamp without time zone,
    first_reply_created_at timestamp without time zone,
    priority integer,
    sla_policy_id bigint,
    waiting_since timestamp(6) without time zone,
    cached_label_list text
);
CREATE UNIQUE INDEX index_conversations_on_account_id_and_display_id ON conversations (account_id, display_id);
CREATE INDEX index_conversations_on_id_and_account_id ON conversations (account_id, id);
CREATE INDEX conv_acid_inbid_stat_asgnid_idx ON conversations (account_id, inbox_id, status, assignee_id);
CREATE INDEX index_conversations_on_account_id ON conversations (account_id);
CREATE INDEX index_conversations_on_assignee_id_and_account_id ON conversations (assignee_id, account_id);
CREATE INDEX index_conversations_on_campaign_id ON conversations (campaign_id);
CREATE INDEX index_conversations_on_contact_id ON conversations (contact_id);
CREATE INDEX index_conversations_on_contact_inbox_id ON conversations (contact_inbox_id);
CREATE INDEX index_conversations_on_first_reply_created_at ON conversations (first_reply_created_at);
CREATE INDEX index_conversations_on_inbox_id ON conversations (inbox_id);
CREATE INDEX index_conversations_on_priority ON conversations (priority);
CREATE INDEX index_conversations_on_status_and_account_id ON conversations (status, account_id);
CREATE INDEX index_conversations_on_status_and_priority ON conversations (status, priority);
CREATE INDEX index_conversations_on_team_id ON conversations (team_id);
CREATE UNIQUE INDEX index_conversations_on_uuid ON conversations (uuid);
CREATE INDEX index_conversations_on_waiting_since ON conversations (waiting_since);

CREATE TABLE messages (
    id serial PRIMARY KEY,
    content text,
    account_id integer NOT NULL,
    inbox_id integer NOT NULL,
    conversation_id integer NOT NULL,
    message_type integer NOT NULL,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL,
    private boolean DEFAULT false NOT NULL,
    status integer DEFAULT 0,
    source_id character varying,
    content_type integer DEFAULT 0 NOT NULL,
    content_attributes json DEFAULT '{}'::json,
    sender_type character varying,
    sender_id bigint,
    external_source_ids jsonb DEFAULT '{}'::jsonb,
    additional_attributes jsonb DEFAULT '{}'::jsonb,
    processed_message_content text,
    sentiment jsonb DEFAULT '{}'::jsonb
);
CREATE INDEX index_messages_on_additional_attributes_campaign_id ON messages
    USING gin (((additional_attributes -> 'campaign_id'::text)));
CREATE INDEX idx_messages_account_content_created ON messages (account_id, content_type, created_at);
CREATE INDEX index_messages_on_account_created_type ON messages (account_id, created_at, message_type);
CREATE INDEX index_messages_on_account_id_and_inbox_id ON messages (account_id, inbox_id);
CREATE INDEX index_messages_on_account_id ON messages (account_id);
CREATE INDEX index_messages_on_content ON messages USING gin (content gin_trgm_ops);
CREATE INDEX index_messages_on_conversation_account_type_created ON messages
    (conversation_id, account_id, message_type, created_at);
CREATE INDEX index_messages_on_conversation_id ON messages (conversation_id);
CREATE INDEX index_messages_on_created_at ON messages (created_at);
CREATE INDEX index_messages_on_inbox_id ON messages (inbox_id);
CREATE INDEX index_messages_on_sender_type_and_sender_id ON messages (sender_type, sender_id);
CREATE INDEX index_messages_on_source_id ON messages (source_id);

-- Chatwoot's triggers (schema.rb's create_trigger blocks, hair_trigger's
-- generated functions).
CREATE FUNCTION accounts_after_insert_row_tr() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    execute format('create sequence IF NOT EXISTS conv_dpid_seq_%s', NEW.id);
    RETURN NULL;
END;
$$;
CREATE TRIGGER accounts_after_insert_row_tr AFTER INSERT ON accounts
    FOR EACH ROW EXECUTE FUNCTION accounts_after_insert_row_tr();

CREATE FUNCTION conversations_before_insert_row_tr() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.display_id := nextval('conv_dpid_seq_' || NEW.account_id);
    RETURN NEW;
END;
$$;
CREATE TRIGGER conversations_before_insert_row_tr BEFORE INSERT ON conversations
    FOR EACH ROW EXECUTE FUNCTION conversations_before_insert_row_tr();

-- What Rails records once the schema is loaded: the schema.rb version the
-- import checks (the newest row), and the environment.
INSERT INTO schema_migrations (version) VALUES
    ('20250731000000'), ('20250816044639');
INSERT INTO ar_internal_metadata (key, value, created_at, updated_at) VALUES
    ('environment', 'production', now(), now()),
    ('schema_sha1', 'written-by-hand-from-schema.rb', now(), now());

-- Two accounts, each with an API-channel inbox, as Chatwoot makes them
-- (Channel::Api row, then the inbox pointing at it).  Account 1 is the
-- one the tests import into; account 2's inbox is a foreign one.
INSERT INTO accounts (id, name, created_at, updated_at) VALUES
    (1, 'Acme', now(), now()), (2, 'Other', now(), now());
SELECT setval('accounts_id_seq', 2);
INSERT INTO channel_api (id, account_id, webhook_url, created_at, updated_at, identifier, hmac_token)
VALUES (1, 1, 'http://127.0.0.1:9/chatwoot/webhook', now(), now(), 'api-ident-1', 'hmac-1'),
       (2, 2, '', now(), now(), 'api-ident-2', 'hmac-2');
SELECT setval('channel_api_id_seq', 2);
INSERT INTO inboxes (id, channel_id, account_id, name, created_at, updated_at, channel_type)
VALUES (1, 1, 1, 'WhatsApp', now(), now(), 'Channel::Api'),
       (2, 2, 2, 'Elsewhere', now(), now(), 'Channel::Api');
SELECT setval('inboxes_id_seq', 2);
