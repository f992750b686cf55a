# The fake Chatwoot itself (t/lib/ChatwootTest/FakeChatwoot.pm), through
# real HTTP: every endpoint's happy path with the exact answer shape of
# ../shared/chatwoot/CONTRACT.md, each strictness rule, each fault kind, the
# webhook signer against CONTRACT's test vector, and that every route it
# serves is in Chatwoot's swagger (t/mock/chatwoot/application_swagger.json).
# No nginx is involved.
use strict;
use warnings;
use lib 't/lib';
use B ();
use ChatwootTest qw(free_port);
use ChatwootTest::FakeChatwoot;
use Digest::SHA qw(hmac_sha256_hex sha256_hex);
use Errno;
use File::Basename qw(dirname);
use IO::Socket::INET;
use JSON::PP;
use Mojo::JSON ();
use Mojo::UserAgent;
use Mojo::Util qw(url_escape);
use Test::More;
use Time::HiRes qw(time);

my $TOKEN = 'test-api-token';
my $t = ChatwootTest->new;
my $port = free_port();
my $fake = ChatwootTest::FakeChatwoot->new(
    account => 1, token => $TOKEN,
    inbox => {id => 7, name => 'WhatsApp', secret => 'inbox-secret'},
    extra_inboxes => [{id => 8, name => 'Cloud', channel_type => 'Channel::Whatsapp',
                       provider => 'whatsapp_cloud'}],
    foreign_accounts => [2],
);
$t->run_daemon(sub { $fake->run($port) });
$t->wait_port($port);

my $BASE = "http://127.0.0.1:$port";
my $A = '/api/v1/accounts/1';
my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;
# A fresh connection for every request: faults close connections.
my $ua = Mojo::UserAgent->new(max_connections => 0, inactivity_timeout => 20,
                              request_timeout => 20);

# (method, path, options) -> {code, json, body, headers, error, elapsed}.
# Options: json (encoded with JSON::PP, so 1 and "1" stay apart), body,
# form (multipart), token (undef: no header), headers, timeout.
sub call {
    my ($method, $path, %o) = @_;
    my %h = %{$o{headers} // {}};
    my $token = exists $o{token} ? $o{token} : $TOKEN;
    $h{api_access_token} = $token if defined $token;
    my @body;
    if (exists $o{json}) {
        $h{'Content-Type'} //= 'application/json';
        @body = ($JSON->encode($o{json}));
    } elsif ($o{form}) {
        @body = (form => $o{form});
    } elsif (defined $o{body}) {
        @body = ($o{body});
    }
    my $agent = $o{timeout}
        ? Mojo::UserAgent->new(max_connections => 0, request_timeout => $o{timeout},
                               inactivity_timeout => $o{timeout})
        : $ua;
    my $tx = $agent->build_tx($method => "$BASE$path" => \%h => @body);
    my $start = time;
    $tx = $agent->start($tx);
    my $res = $tx->res;
    my %r = (code => $res->code, body => $res->body, headers => $res->headers,
             error => $tx->error, elapsed => time - $start);
    $r{json} = eval { Mojo::JSON::decode_json($res->body) }
        if ($res->headers->content_type // '') =~ /json/;
    return \%r;
}

sub control { ChatwootTest::FakeChatwoot->control($port, @_) }

# What a raw client sees: 'reset' (ECONNRESET), 'eof' (closed without a
# byte) or 'answer' (the status line).
sub raw_outcome {
    my ($method, $path, $json) = @_;
    my $body = defined $json ? $JSON->encode($json) : '';
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 5) or die "connect: $!";
    print {$s} "$method $path HTTP/1.1\r\nHost: 127.0.0.1\r\napi_access_token: $TOKEN\r\n"
        . "Content-Type: application/json\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
    my $n = sysread $s, my $buf, 1024;
    my $err = $!;
    close $s;
    return 'reset' if !defined $n && $err + 0 == Errno::ECONNRESET();
    return 'eof' if defined $n && $n == 0;
    return defined $n ? ($buf =~ m{^HTTP/1\.1 (\d+)} ? "answer $1" : 'garbage') : "error $err";
}
sub state { control(GET => 'state') }

sub is_int {
    my ($v) = @_;
    return 0 if !defined $v || ref $v;
    my $f = B::svref_2object(\$v)->FLAGS;
    return ($f & B::SVp_IOK) && !($f & B::SVp_POK) ? 1 : 0;
}
sub is_bool { defined $_[0] && JSON::PP::is_bool($_[0]) }

sub keys_are {
    my ($h, $keys, $name) = @_;
    is_deeply([sort keys %{$h // {}}], [sort @$keys], $name);
}

my @CONTACT_KEYS = qw(additional_attributes availability_status blocked created_at
    custom_attributes email id identifier name phone_number thumbnail);
my @SLIM_INBOX_KEYS = qw(avatar_url channel_id channel_type id name provider);
my @CONVERSATION_KEYS = qw(account_id additional_attributes agent_last_seen_at
    assignee_last_seen_at can_reply contact_last_seen_at created_at custom_attributes
    first_reply_created_at id inbox_id labels last_activity_at last_non_activity_message
    messages meta muted priority sla_policy_id snoozed_until status timestamp unread_count
    updated_at uuid waiting_since);
my @MESSAGE_KEYS = qw(content content_attributes content_type conversation_id created_at
    id inbox_id message_type private sender source_id status);
my @PUSH_MESSAGE_KEYS = qw(account_id additional_attributes content content_attributes
    content_type conversation conversation_id created_at external_source_ids id inbox_id
    message_type private processed_message_content sender sender_id sender_type sentiment
    source_id status updated_at);
my @CONTACT_PUSH_KEYS = qw(additional_attributes blocked custom_attributes email id
    identifier name phone_number thumbnail type);
my @USER_PUSH_KEYS = qw(availability_status available_name avatar_url id name thumbnail type);

my $swagger_file = dirname(__FILE__) . '/mock/chatwoot/application_swagger.json';
open my $sfh, '<', $swagger_file or die "$swagger_file: $!";
my $swagger = $JSON->decode(do { local $/; <$sfh> });
close $sfh;
my $schemas = $swagger->{components}{schemas};
sub swagger_props { [keys %{$schemas->{$_[0]}{properties}}] }
sub keys_within {
    my ($h, $allowed, $name) = @_;
    my %ok = map { $_ => 1 } @$allowed;
    my @extra = grep { !$ok{$_} } sort keys %$h;
    ok(!@extra, $name) or diag "not in the swagger schema: @extra";
}

###########################################################################
note 'the swagger file and the routes';

is(Digest::SHA->new(1)->add('blob ' . (-s $swagger_file) . "\0")->addfile($swagger_file)->hexdigest,
   'f9ff31a7e623d71af47e32aa392e24d843be7982',
   'the swagger copy is the upstream v4.15.1 blob CONTRACT names');
for my $r (ChatwootTest::FakeChatwoot::served_routes()) {
    my ($method, $path, $undocumented) = @$r;
    if ($undocumented) {
        ok(!$swagger->{paths}{$path}{lc $method},
           "$method $path is served though undocumented ($undocumented)");
    } else {
        ok($swagger->{paths}{$path}{lc $method}, "$method $path is in the swagger");
    }
}
is_deeply([map { $_->{path} } @{control(GET => 'routes')}],
          [map { $_->[1] } ChatwootTest::FakeChatwoot::served_routes()],
          '/__fake/routes lists the same routes');

###########################################################################
note 'authentication, accounts, unknown routes, malformed bodies';

my $r = call(GET => "$A/inboxes", token => undef);
is($r->{code}, 401, 'no api_access_token: 401');
is($r->{body}, '{"errors":["You need to sign in or sign up before continuing."]}',
   'no token: devise_token_auth body');
$r = call(GET => "$A/inboxes", token => '');
is($r->{body}, '{"errors":["You need to sign in or sign up before continuing."]}',
   'an empty token counts as none');
$r = call(GET => "$A/inboxes", token => 'wrong');
is($r->{code}, 401, 'unknown token: 401');
is($r->{body}, '{"error":"Invalid Access Token"}', 'unknown token: Invalid Access Token');
$r = call(GET => '/api/v1/profile', token => 'wrong');
is($r->{code}, 401, 'the profile needs the token too');
$r = call(GET => '/api/v1/accounts/2/inboxes');
is_deeply([$r->{code}, $r->{body}],
          [401, '{"error":"You are not authorized to access this account"}'],
          'an account the user is not in: 401');
$r = call(GET => '/api/v1/accounts/99/inboxes');
is_deeply([$r->{code}, $r->{body}], [404, '{"error":"Resource could not be found"}'],
          'an unknown account: 404');
$r = call(GET => "$A/no_such_thing");
is($r->{code}, 404, 'unknown path: 404');
like($r->{headers}->content_type, qr{^text/html}, 'unknown path: Rails HTML page by default');
$r = call(GET => "$A/no_such_thing", token => undef, headers => {Accept => 'application/json'});
is_deeply([$r->{code}, $r->{body}], [404, '{"status":404,"error":"Not Found"}'],
          'unknown path, JSON accepted: 404 before authentication, PublicExceptions body');
$r = call(DELETE => "$A/conversations/1");
is($r->{code}, 404, 'a known path with a method Chatwoot does not route: 404');
$r = call(POST => "$A/contacts/search");
is($r->{code}, 404, 'POST contacts/search: 404');
$r = call(POST => "$A/contacts", body => '{"name":', token => undef,
          headers => {'Content-Type' => 'application/json'});
is_deeply([$r->{code}, $r->{body}], [400, '{"status":400,"error":"Bad Request"}'],
          'malformed JSON: 400 before authentication');
$r = call(GET => "$A/inboxes/");
is($r->{code}, 200, 'a trailing slash routes as in Rails');

###########################################################################
note 'profile and inboxes';

$r = call(GET => '/api/v1/profile');
is($r->{code}, 200, 'profile: 200');
keys_are($r->{json}, [qw(access_token account_id accounts available_name avatar_url
    confirmed display_name email id inviter_id message_signature name provider
    pubsub_token role type ui_settings uid)], 'profile: the user partial');
keys_within($r->{json}, swagger_props('user'), 'profile: keys within the swagger user');
is($r->{json}{access_token}, $TOKEN, 'profile: access_token is the token');
ok(is_int($r->{json}{id}) && is_int($r->{json}{account_id}), 'profile: integer ids');
keys_are($r->{json}{accounts}[0], [qw(active_at auto_offline availability availability_status
    id name onboarding_step permissions role status)], 'profile: accounts[]');
is($r->{json}{accounts}[0]{id}, 1, 'profile: the account');

$r = call(GET => "$A/inboxes");
is($r->{code}, 200, 'inboxes: 200');
keys_are($r->{json}, ['payload'], 'inboxes: {payload:[...]}');
is(scalar @{$r->{json}{payload}}, 2, 'inboxes: both');
my $inbox = $r->{json}{payload}[0];
is_deeply([@$inbox{qw(id name channel_type)}], [7, 'WhatsApp', 'Channel::Api'], 'inboxes: the API inbox');
for my $k (qw(id avatar_url channel_id name channel_type greeting_enabled greeting_message
    working_hours_enabled enable_email_collect csat_survey_enabled csat_config
    enable_auto_assignment auto_assignment_config out_of_office_message working_hours
    timezone callback_webhook_url allow_messages_after_resolved lock_to_single_conversation
    sender_name_type business_name provider hmac_token secret webhook_url inbox_identifier
    additional_attributes)) {
    ok(exists $inbox->{$k}, "inbox has $k");
}
is($inbox->{secret}, 'inbox-secret', 'inbox: the secret given');
ok(is_bool($inbox->{lock_to_single_conversation}), 'inbox: booleans are JSON booleans');
ok(!exists $r->{json}{payload}[1]{secret}, 'a non-API inbox has no API keys');
$r = call(GET => "$A/inboxes/7");
is_deeply($r->{json}, $inbox, 'inbox show: the same object, unwrapped');
$r = call(GET => "$A/inboxes/70");
is_deeply([$r->{code}, $r->{body}], [404, '{"error":"Resource could not be found"}'],
          'unknown inbox: 404');

###########################################################################
note 'contacts';

my $maria_sid = '5511987654321@s.whatsapp.net';
$r = call(POST => "$A/contacts", json => {
    name => 'Maria Silva', phone_number => '+5511987654321', identifier => $maria_sid,
    inbox_id => 7, source_id => $maria_sid, custom_attributes => {tier => 'gold'}});
is($r->{code}, 200, 'contact create: 200');
keys_are($r->{json}, ['payload'], 'contact create: {payload}');
keys_are($r->{json}{payload}, [qw(contact contact_inbox)], 'contact create: contact and contact_inbox');
my $maria = $r->{json}{payload}{contact};
keys_are($maria, [@CONTACT_KEYS, 'contact_inboxes'], 'contact create: the contact partial');
keys_within($maria, swagger_props('contact_list_item'), 'contact: keys within the swagger contact_list_item');
ok(is_int($maria->{id}) && is_int($maria->{created_at}), 'contact: integer id and epoch created_at');
is_deeply([@$maria{qw(name phone_number identifier email availability_status thumbnail)}],
          ['Maria Silva', '+5511987654321', $maria_sid, undef, 'offline', ''], 'contact: fields');
ok(is_bool($maria->{blocked}) && !$maria->{blocked}, 'contact: blocked false');
is_deeply($maria->{custom_attributes}, {tier => 'gold'}, 'contact: custom_attributes');
is(scalar @{$maria->{contact_inboxes}}, 1, 'contact: one contact_inbox');
keys_are($maria->{contact_inboxes}[0], [qw(inbox source_id)], 'contact_inboxes[]: {source_id, inbox}');
keys_are($maria->{contact_inboxes}[0]{inbox}, \@SLIM_INBOX_KEYS, 'contact_inboxes[].inbox: the slim inbox');
is($maria->{contact_inboxes}[0]{source_id}, $maria_sid, 'contact_inboxes[]: the source_id');
my $ci = $r->{json}{payload}{contact_inbox};
is($ci->{source_id}, $maria_sid, 'contact_inbox.source_id');
is($ci->{inbox}{id}, 7, 'contact_inbox.inbox is the inbox record');
ok(exists $ci->{inbox}{account_id} && exists $ci->{inbox}{created_at}, 'contact_inbox.inbox has every column');

$r = call(POST => "$A/contacts", json => {name => 'No Inbox', email => 'NoInbox@Example.com'});
is($r->{code}, 200, 'contact create without inbox_id (the swagger says required; the code not)');
is_deeply($r->{json}{payload}{contact_inbox}, {inbox => undef, source_id => undef},
          'without inbox_id: contact_inbox {inbox: null, source_id: null}');
is($r->{json}{payload}{contact}{email}, 'noinbox@example.com', 'email stored in lowercase');
my $noinbox = $r->{json}{payload}{contact};

$r = call(POST => "$A/contacts", json => {name => 'Uuid', identifier => 'uuid-1', inbox_id => 7});
like($r->{json}{payload}{contact_inbox}{source_id},
     qr/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
     'API inbox without source_id: a random UUID');
my $uuid_contact = $r->{json}{payload}{contact};

my $before = @{state()->{contacts}};
$r = call(POST => "$A/contacts", json => {name => 'Lost', identifier => 'lost', inbox_id => 99});
is_deeply([$r->{code}, $r->{body}], [404, '{"error":"Resource could not be found"}'],
          'unknown inbox_id: 404');
is(scalar @{state()->{contacts}}, $before, 'unknown inbox_id: the contact is rolled back');

note 'contact validations';
my @invalid = (
    [{name => 'P', phone_number => '5511987654321'},
     '{"message":"Phone number should be in e164 format","attributes":["phone_number"]}',
     'phone without +'],
    [{name => 'P', phone_number => '+0511987654321'}, undef, 'phone starting +0'],
    [{name => 'P', phone_number => '+1234567890123456'}, undef, 'phone with 16 digits'],
    [{name => 'P', phone_number => '+55 11 98765'}, undef, 'phone with spaces'],
    [{name => 'P', phone_number => '+5'}, undef, 'phone with one digit'],
    [{name => 'Dup', identifier => $maria_sid},
     '{"message":"Identifier has already been taken","attributes":["identifier"]}',
     'duplicate identifier'],
    [{name => 'Dup', email => 'NOINBOX@example.COM'},
     '{"message":"Email has already been taken","attributes":["email"]}',
     'duplicate email, case-insensitive'],
    [{name => 'Dup', phone_number => '+5511987654321'},
     '{"message":"Phone number has already been taken","attributes":["phone_number"]}',
     'duplicate phone number'],
    [{name => 'Bad', email => 'not-an-email'},
     '{"message":"Email Invalid email","attributes":["email"]}', 'invalid email'],
    [{name => 'x' x 256},
     '{"message":"Name is too long (maximum is 255 characters)","attributes":["name"]}',
     'name over 255 characters'],
    [{name => 'Two', identifier => $maria_sid, phone_number => '123'},
     '{"message":"Identifier has already been taken, Phone number should be in e164 format","attributes":["identifier","phone_number"]}',
     'two errors, joined in validation order'],
);
for my $case (@invalid) {
    my ($body, $want, $name) = @$case;
    $r = call(POST => "$A/contacts", json => $body);
    is($r->{code}, 422, "$name: 422");
    if (defined $want) {
        is($r->{body}, $want, "$name: Chatwoot's RecordInvalid body");
    } else {
        like($r->{body}, qr/"Phone number should be in e164 format"/, "$name: e164 message");
    }
}
$r = call(POST => "$A/contacts", json => {name => 'Quirk', phone_number => 'tel:+5511900000001'});
is($r->{code}, 200, 'the phone regex is anchored only at the end, as in Chatwoot');
$r = call(POST => "$A/contacts", json => {name => 'Num', phone_number => 5511900000002});
is($r->{code}, 422, 'a phone number sent as a JSON number fails the format');
$r = call(POST => "$A/contacts", json => {name => 'Blank1', identifier => ''});
is($r->{code}, 200, 'a blank identifier passes the validation');
$r = call(POST => "$A/contacts", json => {name => 'Blank2', identifier => ''});
is($r->{code}, 500, 'a second blank identifier hits the unique index: 500');

note 'contact show, update, list, search, filter';
$r = call(GET => "$A/contacts/$maria->{id}");
is($r->{code}, 200, 'contact show: 200');
keys_are($r->{json}, ['payload'], 'contact show: {payload}');
is_deeply($r->{json}{payload}, $maria, 'contact show: the same contact');
$r = call(GET => "$A/contacts/$maria->{id}?include_contact_inboxes=false");
ok(!exists $r->{json}{payload}{contact_inboxes}, 'include_contact_inboxes=false leaves them out');
$r = call(GET => "$A/contacts/999999");
is($r->{code}, 404, 'unknown contact: 404');
$r = call(PUT => "$A/contacts/$maria->{id}", json => {name => 'Maria S.', custom_attributes => {city => 'SP'}});
is($r->{code}, 200, 'contact update (PUT): 200');
keys_are($r->{json}, ['payload'], 'contact update: {payload}');
is($r->{json}{payload}{name}, 'Maria S.', 'contact update: the new name');
is_deeply($r->{json}{payload}{custom_attributes}, {tier => 'gold', city => 'SP'},
          'contact update: custom_attributes merged');
$r = call(PATCH => "$A/contacts/$noinbox->{id}", json => {identifier => $maria_sid});
is_deeply([$r->{code}, $r->{body}],
          [422, '{"message":"Identifier has already been taken","attributes":["identifier"]}'],
          'contact update (PATCH) to a taken identifier: 422');
$r = call(PATCH => "$A/contacts/$maria->{id}", json => {identifier => $maria_sid});
is($r->{code}, 200, 'keeping its own identifier is not a clash');

$r = call(GET => "$A/contacts");
is($r->{code}, 200, 'contact list: 200');
keys_are($r->{json}{meta}, [qw(count current_page)], 'contact list: meta');
is($r->{json}{meta}{current_page}, 1, 'contact list: current_page is the integer 1 by default');
ok(!grep({ $_->{name} eq 'Blank1' } @{$r->{json}{payload}}), 'contact list: only resolved contacts');
$r = call(GET => "$A/contacts?page=1");
is($r->{json}{meta}{current_page}, '1', 'contact list: current_page echoes the parameter string');
ok(!is_int($r->{json}{meta}{current_page}), 'contact list: as a string');

$r = call(GET => "$A/contacts/search?q=maria");
is($r->{code}, 200, 'search: 200');
keys_are($r->{json}{meta}, [qw(count current_page has_more)], 'search: meta');
is($r->{json}{meta}{count}, 1, 'search: case-insensitive name match');
is($r->{json}{payload}[0]{id}, $maria->{id}, 'search: Maria');
keys_are($r->{json}{payload}[0], [@CONTACT_KEYS, 'contact_inboxes'], 'search: contacts with inboxes');
$r = call(GET => "$A/contacts/search?q=" . url_escape('+55119876'));
is($r->{json}{meta}{count}, 1, 'search: phone, with + percent-encoded');
$r = call(GET => "$A/contacts/search?q=+55119876");
is($r->{json}{meta}{count}, 0, 'search: a raw + is a space, as in Rails');
$r = call(GET => "$A/contacts/search?q=S.WHATSAPP");
is($r->{json}{meta}{count}, 0, 'search: identifier is case-sensitive');
$r = call(GET => "$A/contacts/search?q=s.whatsapp");
is($r->{json}{meta}{count}, 1, 'search: identifier partial match');
$r = call(GET => "$A/contacts/search?q=");
is_deeply([$r->{code}, $r->{json}{payload}], [200, []], 'search: blank q renders nothing (no 422)');
for my $i (1 .. 16) {
    call(POST => "$A/contacts", json => {name => "Page $i", identifier => "page-$i"});
}
$r = call(GET => "$A/contacts/search?q=page-");
is_deeply([$r->{json}{meta}{count}, $r->{json}{meta}{has_more}, scalar @{$r->{json}{payload}}],
          [15, JSON::PP::true, 15], 'search: 15 a page, has_more');
$r = call(GET => "$A/contacts/search?q=page-&page=2");
is_deeply([$r->{json}{meta}{count}, $r->{json}{meta}{has_more}], [1, JSON::PP::false],
          'search: the second page');
$r = call(GET => "$A/contacts/search?q=page_1");
is($r->{json}{meta}{count}, 8, 'search: _ is a LIKE wildcard (page-1 and page-10 .. page-16)');

$r = call(POST => "$A/contacts/filter", json => {payload => [
    {attribute_key => 'phone_number', filter_operator => 'equal_to',
     values => ['+5511987654321'], query_operator => undef}]});
is($r->{code}, 200, 'filter: 200');
keys_are($r->{json}{meta}, [qw(count current_page)], 'filter: meta');
is_deeply([map { $_->{id} } @{$r->{json}{payload}}], [$maria->{id}], 'filter: phone equal_to');
$r = call(POST => "$A/contacts/filter", json => {payload => [
    {attribute_key => 'identifier', filter_operator => 'equal_to', values => ['uuid-1'],
     query_operator => 'OR'},
    {attribute_key => 'name', filter_operator => 'contains', values => ['maria'],
     query_operator => undef}]});
is_deeply([sort { $a <=> $b } map { $_->{id} } @{$r->{json}{payload}}],
          [sort { $a <=> $b } $maria->{id}, $uuid_contact->{id}], 'filter: OR');
$r = call(POST => "$A/contacts/filter", json => {payload => [
    {attribute_key => 'identifier', filter_operator => 'contains', values => ['x']}]});
is_deeply([$r->{code}, $r->{body}],
          [422, '{"error":"Invalid operator. The allowed operators for identifier are [equal_to,not_equal_to]"}'],
          'filter: an operator the attribute does not take: 422 {error}');
$r = call(POST => "$A/contacts/filter", json => {payload => [
    {attribute_key => 'shoe_size', filter_operator => 'equal_to', values => ['4']}]});
is($r->{code}, 422, 'filter: an unknown attribute: 422');

note 'contact inboxes';
$r = call(POST => "$A/contacts/$noinbox->{id}/contact_inboxes",
          json => {inbox_id => 7, source_id => 'noinbox-src'});
is($r->{code}, 200, 'contact_inbox create: 200');
keys_are($r->{json}, [qw(inbox source_id)], 'contact_inbox create: {source_id, inbox}');
keys_are($r->{json}{inbox}, \@SLIM_INBOX_KEYS, 'contact_inbox create: the slim inbox');
$before = @{state()->{contact_inboxes}};
$r = call(POST => "$A/contacts/$noinbox->{id}/contact_inboxes",
          json => {inbox_id => 7, source_id => 'noinbox-src'});
is($r->{json}{source_id}, 'noinbox-src', 'the same (contact, inbox, source_id) again');
is(scalar @{state()->{contact_inboxes}}, $before, '... is idempotent');
my $u1 = call(POST => "$A/contacts/$noinbox->{id}/contact_inboxes", json => {inbox_id => 7})->{json};
my $u2 = call(POST => "$A/contacts/$noinbox->{id}/contact_inboxes", json => {inbox_id => 7})->{json};
isnt($u1->{source_id}, $u2->{source_id}, 'without source_id: a new UUID row every call');
$r = call(POST => "$A/contacts/$noinbox->{id}/contact_inboxes",
          json => {inbox_id => 7, source_id => $maria_sid});
is($r->{code}, 500, "another contact's source_id: RecordNotUnique, a 500");
$r = call(POST => "$A/contacts/$noinbox->{id}/contact_inboxes", json => {source_id => 'x'});
is($r->{code}, 404, 'no inbox_id: 404');

###########################################################################
note 'conversations';

$r = call(POST => "$A/conversations",
          json => {inbox_id => 7, contact_id => $maria->{id}, source_id => $maria_sid});
is($r->{code}, 200, 'conversation create: 200');
my $conv = $r->{json};
keys_are($conv, \@CONVERSATION_KEYS, 'conversation: the partial');
keys_within($conv, [@{swagger_props('conversation')}, 'meta'],
            'conversation: keys within the swagger conversation');
is($conv->{id}, 1, 'conversation: id is the display_id (1 in this account)');
my $cv_state = state()->{conversations}[0];
isnt($cv_state->{internal_id}, $conv->{id}, 'the internal id is another number, never shown');
is_deeply([@$conv{qw(status inbox_id account_id messages labels)}],
          ['open', 7, 1, [], []], 'conversation: open, no messages');
for my $k (qw(created_at timestamp last_activity_at agent_last_seen_at contact_last_seen_at
              first_reply_created_at waiting_since assignee_last_seen_at unread_count)) {
    ok(is_int($conv->{$k}), "conversation: $k is an integer");
}
is($conv->{agent_last_seen_at}, 0, 'conversation: nil times are 0');
like($conv->{updated_at}, qr/^\d+(?:\.\d+)?$/, 'conversation: updated_at is a number (float)');
ok(is_bool($conv->{can_reply}) && $conv->{can_reply}, 'conversation: can_reply');
keys_are($conv->{meta}, [qw(channel hmac_verified sender)], 'conversation meta, no assignee');
is($conv->{meta}{channel}, 'Channel::Api', 'meta.channel');
keys_are($conv->{meta}{sender}, \@CONTACT_KEYS, 'meta.sender: the contact partial');
is($conv->{meta}{sender}{id}, $maria->{id}, 'meta.sender: Maria');

$r = call(POST => "$A/conversations", json => {source_id => $maria_sid});
is($r->{code}, 200, 'create by source_id alone (the old lookup)');
my $conv2 = $r->{json};
is($conv2->{id}, 2, 'display ids count up per account');
$r = call(POST => "$A/conversations", json => {source_id => 'nobody'});
is_deeply([$r->{code}, $r->{body}], [404, '{"error":"Resource could not be found"}'],
          'an unknown source_id alone: 404');
$r = call(POST => "$A/conversations",
          json => {inbox_id => 7, contact_id => $noinbox->{id}, source_id => $maria_sid});
is_deeply([$r->{code}, $r->{body}], [422, '{"error":"source_id should be unique"}'],
          "another contact's source_id: 422 source_id should be unique");
$r = call(POST => "$A/conversations",
          json => {inbox_id => 7, contact_id => $noinbox->{id}, source_id => 'noinbox-src',
                   status => 'pending', custom_attributes => {order => 12}});
is_deeply([$r->{code}, $r->{json}{status}, $r->{json}{custom_attributes}],
          [200, 'pending', {order => 12}], 'create with status and custom_attributes');
my $pending = $r->{json};
$before = @{state()->{conversations}};
$r = call(POST => "$A/conversations",
          json => {inbox_id => 7, contact_id => $noinbox->{id}, source_id => 'noinbox-src',
                   status => 'closed'});
is($r->{code}, 500, 'an invalid status: the enum ArgumentError, a 500');
is(scalar @{state()->{conversations}}, $before, '... and nothing is created');
$r = call(POST => "$A/conversations", json => {inbox_id => 7, contact_id => 999999});
is($r->{code}, 404, 'unknown contact_id: 404');
$r = call(POST => "$A/conversations", json => {inbox_id => 7, contact_id => $uuid_contact->{id},
    message => {content => 'first words', message_type => 'incoming'}});
is($r->{code}, 200, 'create with a first message');
is($r->{json}{messages}[0]{content}, 'first words', 'the first message is in messages[]');
keys_are($r->{json}{messages}[0], \@PUSH_MESSAGE_KEYS, 'messages[] holds push_event_data');
is($r->{json}{messages}[0]{conversation_id}, $r->{json}{id}, 'push data: conversation_id is the display id');
ok(is_int($r->{json}{messages}[0]{message_type}), 'push data: integer message_type');
keys_are($r->{json}{messages}[0]{conversation}, [qw(assignee_id contact_inbox last_activity_at unread_count)],
         'push data: the conversation summary');
my $with_msg = $r->{json};
$r = call(POST => "$A/conversations", json => {inbox_id => 7, contact_id => $uuid_contact->{id},
    message => {content => 'x' x 150_001}});
is_deeply([$r->{code}, $r->{body}],
          [422, '{"message":"Content is too long (maximum is 150000 characters)","attributes":["content"]}'],
          'a first message that fails validation: 422 RecordInvalid, rolled back');

$r = call(GET => "$A/conversations/1");
is($r->{code}, 200, 'conversation show: 200');
keys_are($r->{json}, \@CONVERSATION_KEYS, 'conversation show: the partial');
$r = call(GET => "$A/conversations/999");
is($r->{code}, 404, 'unknown display id: 404');

$r = call(GET => "$A/conversations");
is($r->{code}, 200, 'conversation list: 200');
keys_are($r->{json}, ['data'], 'conversation list: {data}');
keys_are($r->{json}{data}, [qw(meta payload)], 'conversation list: data.meta and data.payload');
keys_are($r->{json}{data}{meta}, [qw(all_count assigned_count mine_count unassigned_count)],
         'conversation list: the counts');
ok(!grep({ $_->{status} ne 'open' } @{$r->{json}{data}{payload}}), 'default status filter: open');
$r = call(GET => "$A/conversations?status=all");
is($r->{json}{data}{meta}{all_count}, 4, 'status=all: every conversation');
$r = call(GET => "$A/conversations?status=pending");
is_deeply([map { $_->{id} } @{$r->{json}{data}{payload}}], [$pending->{id}], 'status=pending');
$r = call(GET => "$A/conversations?status=all&source_id=noinbox-src");
is_deeply([map { $_->{id} } @{$r->{json}{data}{payload}}], [$pending->{id}], 'source_id filter');
$r = call(GET => "$A/conversations?status=all&q=first%20w");
is_deeply([map { $_->{id} } @{$r->{json}{data}{payload}}], [$with_msg->{id}], 'q searches message content');
$r = call(GET => "$A/conversations?status=all&inbox_id=8");
is_deeply($r->{json}{data}{payload}, [], 'inbox_id filter');
$r = call(GET => "$A/conversations/meta?status=all");
is_deeply($r->{json}, {meta => {all_count => 4, assigned_count => 0, mine_count => 0,
                                unassigned_count => 4}}, 'conversations/meta');

$r = call(POST => "$A/conversations/1/toggle_status", json => {});
is($r->{code}, 200, 'toggle_status: 200');
is_deeply($r->{json}, {meta => {}, payload => {success => JSON::PP::true, conversation_id => 1,
          current_status => 'resolved', snoozed_until => undef}},
          'toggle_status without status: open becomes resolved; the exact answer');
$r = call(POST => "$A/conversations/1/toggle_status", json => {});
is($r->{json}{payload}{current_status}, 'open', 'toggle_status again: resolved becomes open');
$r = call(POST => "$A/conversations/1/toggle_status", json => {status => 'snoozed', snoozed_until => 1781950562});
is_deeply([@{$r->{json}{payload}}{qw(current_status snoozed_until)}],
          ['snoozed', '2026-06-20T10:16:02.000Z'], 'snoozed with snoozed_until');
$r = call(POST => "$A/conversations/1/toggle_status", json => {status => 'resolved'});
is_deeply([@{$r->{json}{payload}}{qw(current_status snoozed_until)}], ['resolved', undef],
          'explicit status; snoozed_until cleared');
$r = call(POST => "$A/conversations/1/toggle_status", json => {status => 'done'});
is($r->{code}, 500, 'toggle_status to an unknown status: 500');
$r = call(POST => "$A/conversations/77/toggle_status", json => {status => 'open'});
is($r->{code}, 404, 'toggle_status on an unknown conversation: 404');

$r = call(GET => "$A/contacts/$maria->{id}/conversations");
is($r->{code}, 200, 'contact conversations: 200');
keys_are($r->{json}, ['payload'], 'contact conversations: {payload}');
is_deeply([sort map { $_->{id} } @{$r->{json}{payload}}], [1, 2], "contact conversations: Maria's two");
keys_are($r->{json}{payload}[0], \@CONVERSATION_KEYS, 'contact conversations: the partial');
$r = call(GET => "$A/contacts/999999/conversations");
is($r->{code}, 404, 'conversations of an unknown contact: 404');

###########################################################################
note 'messages';

$r = call(POST => "$A/conversations/1/messages", json => {
    content => 'Oi <b>&', message_type => 'incoming', private => JSON::PP::false,
    source_id => 'WAID:ABC1', echo_id => 'e-1'});
is($r->{code}, 200, 'message create (JSON): 200');
my $m1 = $r->{json};
keys_are($m1, [@MESSAGE_KEYS, 'echo_id'], 'message: the partial, echo_id only when sent');
keys_within($m1, swagger_props('message_detailed'), 'message: keys within the swagger message_detailed');
is_deeply([@$m1{qw(content message_type content_type status source_id conversation_id inbox_id echo_id)}],
          ['Oi <b>&', 0, 'text', 'sent', 'WAID:ABC1', 1, 7, 'e-1'], 'message: fields');
ok(is_int($m1->{message_type}), 'message_type is an integer in REST');
ok(is_int($m1->{created_at}) && is_int($m1->{id}), 'message: integer id and created_at');
like($r->{body}, qr/"content":"Oi \\u003cb\\u003e\\u0026"/, 'Rails escapes <, > and & in JSON');
keys_are($m1->{sender}, \@CONTACT_PUSH_KEYS, 'incoming: the sender is the contact (push data)');
is($r->{json}{sender}{type}, 'contact', 'sender type contact');
ok(!exists $m1->{attachments}, 'no attachments key without attachments');
is(state()->{conversations}[0]{status}, 'open', 'an incoming message reopens a resolved conversation');

$r = call(POST => "$A/conversations/1/messages", json => {
    content => 'Resposta', message_type => 'outgoing', source_id => 'WAID:ABC2',
    content_attributes => {in_reply_to_external_id => 'WAID:ABC1'}});
my $m2 = $r->{json};
is_deeply($m2->{content_attributes}, {in_reply_to => $m1->{id}, in_reply_to_external_id => 'WAID:ABC1'},
          'in_reply_to_external_id found: both keys from the quoted message');
keys_are($m2->{sender}, \@USER_PUSH_KEYS, 'outgoing: the sender is the user (push data)');
is($m2->{message_type}, 1, 'outgoing is 1');
ok(!exists $m2->{echo_id}, 'no echo_id key when none was sent');
$r = call(POST => "$A/conversations/1/messages", json => {
    content => 'quote', content_attributes => {in_reply_to => $m2->{id}}});
is_deeply($r->{json}{content_attributes}, {in_reply_to => $m2->{id}, in_reply_to_external_id => 'WAID:ABC2'},
          'in_reply_to by id: both keys');
$r = call(POST => "$A/conversations/2/messages", json => {
    content => 'elsewhere', content_attributes => {in_reply_to_external_id => 'WAID:ABC1'}});
is_deeply($r->{json}{content_attributes}, {in_reply_to => undef, in_reply_to_external_id => undef},
          'a quoted message in another conversation is not found: both null');
$r = call(POST => "$A/conversations/1/messages", json => {
    content => 'note', private => JSON::PP::true, message_type => 'outgoing'});
ok(is_bool($r->{json}{private}) && $r->{json}{private}, 'a private note');
$r = call(POST => "$A/conversations/1/messages", json => {content => 'tmpl', message_type => 'template'});
is_deeply([$r->{json}{message_type}, $r->{json}{sender}{type}], [3, 'contact'],
          'template: 3, sent as the contact');
$r = call(POST => "$A/conversations/1/messages", json => {content => 'dup', message_type => 'incoming',
    source_id => 'WAID:ABC1'});
is($r->{code}, 200, 'Chatwoot does not de-duplicate on source_id');

note 'message strictness';
$r = call(POST => "$A/conversations/1/messages", json => {content => 'x', message_type => 'bogus'});
is_deeply([$r->{code}, $r->{body}], [422, q({"error":"'bogus' is not a valid message_type"})],
          'unknown message_type: 422 {error}');
$r = call(POST => "$A/conversations/1/messages", json => {content => 'x', message_type => '1'});
is_deeply([$r->{code}, $r->{body}], [422, q({"error":"'1' is not a valid message_type"})],
          'message_type "1" (a string) is not an enum value');
$r = call(POST => "$A/conversations/1/messages", json => {content => 'x', message_type => 1});
is_deeply([$r->{code}, $r->{json}{message_type}, $r->{json}{sender}{type}], [200, 1, 'contact'],
          'message_type 1 (a number) is taken, and the sender is the contact');
$r = call(POST => "$A/conversations/1/messages", json => {content => 'x', content_type => 'html'});
is_deeply([$r->{code}, $r->{body}], [422, q({"error":"'html' is not a valid content_type"})],
          'unknown content_type: 422');
$r = call(POST => "$A/conversations/1/messages", json => {content => 'x' x 150_001});
is_deeply([$r->{code}, $r->{body}],
          [422, '{"error":"Validation failed: Content is too long (maximum is 150000 characters)"}'],
          'content over 150000 characters: 422');
$r = call(POST => "$A/conversations/99/messages", json => {content => 'x'});
is($r->{code}, 404, 'unknown conversation: 404');
$r = call(POST => "$A/conversations/1/messages", body => '{"content":"untyped"}');
is($r->{code}, 200, 'a JSON body without Content-Type is not parsed ...');
is($r->{json}{content}, undef, '... so the message has no content');
like(join(' ', @{state()->{requests}[-1]{warnings}}), qr/not parsed by Rails/,
     '... and the request log says why');
$r = call(POST => "$A/conversations/1/messages", json => {content => 12});
is($r->{json}{content}, '12', 'a numeric content is stored as text');

# Another inbox that is not an API inbox.
my $wa = call(POST => "$A/contacts", json => {name => 'Cloud', identifier => 'cloud-1',
                                              inbox_id => 8, source_id => 'cloud-src'})->{json};
my $cloud = call(POST => "$A/conversations", json => {source_id => 'cloud-src'})->{json};
is($cloud->{meta}{channel}, 'Channel::Whatsapp', 'a conversation in the non-API inbox');
$r = call(POST => "$A/conversations/$cloud->{id}/messages", json => {content => 'x', message_type => 'incoming'});
is_deeply([$r->{code}, $r->{body}], [422, '{"error":"Incoming messages are only allowed in Api inboxes"}'],
          'incoming in a non-API inbox: 422');
my $out = call(POST => "$A/conversations/$cloud->{id}/messages", json => {content => 'out'})->{json};
$r = call(PATCH => "$A/conversations/$cloud->{id}/messages/$out->{id}", json => {status => 'read'});
is_deeply([$r->{code}, $r->{body}],
          [403, '{"error":"Message status update is only allowed for API inboxes"}'],
          'status update outside API inboxes: 403');

note 'the flood guard';
control(POST => 'config', {flood_limit => 3});
my $flood = call(POST => "$A/conversations", json => {inbox_id => 7, contact_id => $uuid_contact->{id}})->{json};
is(call(POST => "$A/conversations/$flood->{id}/messages", json => {content => "f$_"})->{code}, 200,
   "message $_ of 3 in a minute") for 1 .. 3;
$r = call(POST => "$A/conversations/$flood->{id}/messages", json => {content => 'f4'});
is_deeply([$r->{code}, $r->{body}], [422, '{"error":"Validation failed: Too many messages"}'],
          'over CONVERSATION_MESSAGE_PER_MINUTE_LIMIT: 422 Too many messages');
control(POST => 'config', {clock_offset => 61});
is(call(POST => "$A/conversations/$flood->{id}/messages", json => {content => 'later'})->{code}, 200,
   'a minute later it is accepted');
control(POST => 'config', {flood_limit => 200, clock_offset => 0});

note 'multipart and attachments';
my $jpeg = "\xff\xd8\xff\xe0" . ('J' x 100);
my $ogg = "OggS" . ('A' x 50);
$r = call(POST => "$A/conversations/1/messages", form => {
    content => 'Foto', message_type => 'incoming', private => 'false', source_id => 'WAID:IMG1',
    content_attributes => '{"in_reply_to_external_id":"WAID:ABC2"}',
    'attachments[]' => [
        {content => $jpeg, filename => 'photo.jpg', 'Content-Type' => 'image/jpeg'},
        {content => $ogg, filename => 'voice.ogg', 'Content-Type' => 'audio/ogg'},
        {content => 'PDF', filename => 'doc.pdf', 'Content-Type' => 'application/pdf'},
    ]});
is($r->{code}, 200, 'multipart message with attachments[]: 200');
my $mm = $r->{json};
keys_are($mm, [@MESSAGE_KEYS, 'attachments'], 'multipart message: the partial with attachments');
is_deeply([@$mm{qw(content message_type source_id)}], ['Foto', 0, 'WAID:IMG1'], 'multipart: fields');
ok(is_bool($mm->{private}) && !$mm->{private}, 'multipart: private "false" is false');
is($mm->{content_attributes}{in_reply_to}, $m2->{id}, 'multipart: content_attributes as a JSON string');
is_deeply([map { $_->{file_type} } @{$mm->{attachments}}], [qw(image audio file)], 'file_type from the part type');
my ($img, $aud, $doc) = @{$mm->{attachments}};
keys_are($img, [qw(account_id content_type data_url extension file_size file_type height id
                   message_id thumb_url width)], 'attachment keys');
is_deeply([@$img{qw(message_id account_id extension content_type file_size width height)}],
          [$mm->{id}, 1, 'jpg', 'image/jpeg', length($jpeg), undef, undef], 'attachment fields');
like($img->{data_url}, qr{^\Q$BASE\E/rails/active_storage/blobs/redirect/[^/]+--[0-9a-f]+/photo\.jpg$},
     'data_url: the ActiveStorage redirect route');
like($img->{thumb_url}, qr{/rails/active_storage/representations/redirect/[^/]+/[^/]+/photo\.jpg$},
     'thumb_url for an image');
is($doc->{thumb_url}, '', 'thumb_url "" for other files');
like($aud->{data_url}, qr/\?disposition=inline$/, 'audio data_url is inline');
is($aud->{transcribed_text}, '', 'audio has transcribed_text');
$r = call(GET => $img->{data_url} =~ s/^\Q$BASE\E//r, token => undef);
is($r->{code}, 302, 'the data_url needs no token and redirects');
my $loc = $r->{headers}->location;
like($loc, qr{/rails/active_storage/disk/}, 'to the disk service');
$r = call(GET => $loc =~ s/^\Q$BASE\E//r, token => undef);
is_deeply([$r->{code}, $r->{body}, $r->{headers}->content_type], [200, $jpeg, 'image/jpeg'],
          'the bytes come back');
my $st_msg = (grep { $_->{id} == $mm->{id} } @{state()->{conversations}[0]{messages}})[0];
is($st_msg->{attachments}[0]{sha256}, sha256_hex($jpeg), 'state: attachment digest');
$r = call(POST => "$A/conversations/1/messages", form => {
    content => 'one', attachments => {content => 'x', filename => 'a.txt', 'Content-Type' => 'text/plain'}});
is_deeply([$r->{code}, $r->{body}],
          [422, q({"error":"undefined method 'each' for an instance of ActionDispatch::Http::UploadedFile"})],
          'attachments without [] is not a list: 422');
$r = call(POST => "$A/conversations/1/messages", json => {content => 'x', attachments => ['forged']});
is_deeply([$r->{code}, $r->{body}], [422, '{"error":"ActiveSupport::MessageVerifier::InvalidSignature"}'],
          'a signed blob id that does not verify: 422');

note 'message list, update, delete';
my $lc = call(POST => "$A/conversations", json => {inbox_id => 7, contact_id => $maria->{id}})->{json};
my @ids = map { call(POST => "$A/conversations/$lc->{id}/messages",
                     json => {content => "m$_", message_type => 'incoming'})->{json}{id} } 1 .. 25;
$r = call(GET => "$A/conversations/$lc->{id}/messages");
is($r->{code}, 200, 'message list: 200');
keys_are($r->{json}, [qw(meta payload)], 'message list: {meta, payload}');
keys_are($r->{json}{meta}, [qw(additional_attributes agent_last_seen_at assignee_last_seen_at contact labels)],
         'message list: meta');
keys_are($r->{json}{meta}{contact}, \@CONTACT_PUSH_KEYS, 'message list: meta.contact is push data');
is_deeply([map { $_->{id} } @{$r->{json}{payload}}], [@ids[5 .. 24]], 'no parameter: the latest 20, oldest first');
keys_are($r->{json}{payload}[0], \@MESSAGE_KEYS, 'message list: message partials');
$r = call(GET => "$A/conversations/$lc->{id}/messages?before=$ids[5]");
is_deeply([map { $_->{id} } @{$r->{json}{payload}}], [@ids[0 .. 4]], 'before: the older ones');
$r = call(GET => "$A/conversations/$lc->{id}/messages?after=$ids[21]");
is_deeply([map { $_->{id} } @{$r->{json}{payload}}], [@ids[22 .. 24]], 'after: the newer ones');
$r = call(GET => "$A/conversations/$lc->{id}/messages?after=$ids[0]&before=$ids[3]");
is_deeply([map { $_->{id} } @{$r->{json}{payload}}], [@ids[1, 2]], 'after and before');
is(call(GET => "$A/conversations/$lc->{id}")->{json}{unread_count}, 25, 'unread_count counts incoming');
is(call(GET => "$A/conversations/$lc->{id}")->{json}{messages}[0]{id}, $ids[24],
   'conversation messages[]: the latest');

my $mp = "$A/conversations/1/messages/$m2->{id}";
$r = call(PATCH => $mp, json => {status => 'delivered'});
is_deeply([$r->{code}, $r->{json}{status}], [200, 'delivered'], 'status update: delivered');
keys_are($r->{json}, \@MESSAGE_KEYS, 'status update: the message partial');
is_deeply($r->{json}{content_attributes},
          {in_reply_to => $m1->{id}, in_reply_to_external_id => 'WAID:ABC1', external_error => undef},
          'a non-failed status writes external_error null');
$r = call(PATCH => $mp, json => {status => 'read'});
is($r->{json}{status}, 'read', 'status update: read');
$r = call(PATCH => $mp, json => {status => 'delivered'});
is_deeply([$r->{code}, $r->{json}{status}], [200, 'read'], 'read -> delivered is ignored with a 200');
$r = call(PATCH => $mp, json => {status => 'lost'});
is_deeply([$r->{code}, $r->{json}{status}], [200, 'read'], 'an unknown status is ignored with a 200');
$r = call(PATCH => $mp, json => {status => 'failed', external_error => '131047 Re-engagement'});
is_deeply([$r->{json}{status}, $r->{json}{content_attributes}{external_error}],
          ['failed', '131047 Re-engagement'], 'failed keeps external_error');
$r = call(PATCH => "$A/conversations/2/messages/$m2->{id}", json => {status => 'read'});
is($r->{code}, 404, "a message of another conversation: 404");

$r = call(DELETE => "$A/conversations/1/messages/$mm->{id}");
is($r->{code}, 200, 'delete: 200');
is_deeply([@{$r->{json}}{qw(content content_type content_attributes)}],
          ['This message was deleted', 'text', {deleted => JSON::PP::true}],
          'delete: content replaced, content_attributes replaced by {deleted:true}');
ok(!exists $r->{json}{attachments}, 'delete: the attachments are gone');
$r = call(DELETE => "$A/conversations/1/messages/1");
is($r->{code}, 404, 'delete an unknown message: 404');

###########################################################################
note 'faults';

sub faults { control(POST => 'faults', {rules => [@_]}) }
my $conv_msgs = "$A/conversations/1/messages";

faults({kind => '429_plain', path_regex => '/profile$', count => 1});
$r = call(GET => '/api/v1/profile');
is_deeply([$r->{code}, $r->{body}, $r->{headers}->content_type], [429, "Retry later\n", 'text/plain'],
          '429_plain: rack-attack\'s default answer');
ok(!defined $r->{headers}->header('Retry-After'), '429_plain: no Retry-After');
is(call(GET => '/api/v1/profile')->{code}, 200, 'count 1: the next request passes');

faults({kind => '429_retry_after', path_regex => '/profile$', retry_after => 3, count => 1});
$r = call(GET => '/api/v1/profile');
is_deeply([$r->{code}, $r->{headers}->header('Retry-After')], [429, 3], '429_retry_after: Retry-After: 3');

faults({kind => '422_too_many', method => 'POST', path_regex => '/messages$', count => 1});
$r = call(POST => $conv_msgs, json => {content => 'x'});
is_deeply([$r->{code}, $r->{body}], [422, '{"error":"Validation failed: Too many messages"}'],
          '422_too_many: the flood guard answer');

faults({kind => '500', path_regex => '/profile$', count => 1},
       {kind => '502', path_regex => '/inboxes$', count => 1},
       {kind => '503', path_regex => '/inboxes/7$', count => 1});
$r = call(GET => '/api/v1/profile');
is_deeply([$r->{code}, $r->{body}], [500, '{"status":500,"error":"Internal Server Error"}'],
          'fault 500: Rails\' JSON error page');
$r = call(GET => "$A/inboxes");
is($r->{code}, 502, 'fault 502');
like($r->{body}, qr{<title>502 Bad Gateway</title>}, 'fault 502: a proxy page');
is(call(GET => "$A/inboxes/7")->{code}, 503, 'fault 503');

faults({kind => 'slow', path_regex => '/profile$', delay_ms => 400, count => 1});
$r = call(GET => '/api/v1/profile');
is($r->{code}, 200, 'slow: answers normally');
cmp_ok($r->{elapsed}, '>=', 0.39, 'slow: after the delay');

faults({kind => 'timeout', path_regex => '/profile$', count => 1});
$r = call(GET => '/api/v1/profile', timeout => 0.5);
ok($r->{error} && !$r->{code}, 'timeout: no answer before the client gives up');
like($r->{error}{message} // '', qr/timeout/i, 'timeout: the client timed out');
faults({kind => 'timeout', path_regex => '/profile$', count => 1, max_s => 1});
$r = call(GET => '/api/v1/profile', timeout => 5);
ok($r->{error} && !$r->{code}, 'timeout with max_s: never answered');
cmp_ok($r->{elapsed}, '<', 3, 'timeout: the connection closes after max_s');
is(call(GET => '/api/v1/profile')->{code}, 200, 'and the fake still answers');
faults({kind => 'timeout', method => 'POST', path_regex => '/messages$', count => 1, perform => JSON::PP::true});
$r = call(POST => "$A/conversations/1/messages", json => {content => 'slow db', source_id => 'WAID:T1'}, timeout => 0.5);
ok($r->{error} && !$r->{code}, 'timeout with perform: no answer');
is(scalar(grep { ($_->{source_id} // '') eq 'WAID:T1' } @{state()->{conversations}[0]{messages}}), 1,
   'timeout with perform: the message was created');

faults({kind => 'reset', method => 'POST', path_regex => '/messages$', count => 1});
my $count = @{state()->{conversations}[0]{messages}};
$r = call(POST => $conv_msgs, json => {content => 'reset me', source_id => 'WAID:R1'});
ok($r->{error} && !$r->{code}, 'reset: no answer');
like($r->{error}{message}, qr/reset|premature|closed/i, 'reset: the connection was dropped');
is(scalar @{state()->{conversations}[0]{messages}}, $count, 'reset: nothing was done');
faults({kind => 'reset', method => 'POST', path_regex => '/messages$', count => 1});
is(raw_outcome(POST => $conv_msgs, {content => 'reset me'}), 'reset', 'reset: an RST on the wire');
is(scalar @{state()->{conversations}[0]{messages}}, $count, 'reset: still nothing done');

faults({kind => 'lost_answer', method => 'POST', path_regex => '/messages$', count => 1});
$r = call(POST => $conv_msgs, json => {content => 'lost', source_id => 'WAID:L1'});
ok($r->{error} && !$r->{code}, 'lost_answer: the client gets no answer');
faults({kind => 'lost_answer', method => 'POST', path_regex => '/messages$', count => 1});
is(raw_outcome(POST => $conv_msgs, {content => 'lost raw', source_id => 'WAID:L0'}), 'eof',
   'lost_answer: a plain close (FIN) without a byte on the wire');
my $st = state();
my @lost = grep { ($_->{source_id} // '') eq 'WAID:L1' } @{$st->{conversations}[0]{messages}};
is(scalar @lost, 1, 'lost_answer: the message exists nevertheless');
my ($logged) = grep { $_->{fault} && $_->{fault} eq 'lost_answer' } @{$st->{requests}};
is_deeply([$logged->{status}, $logged->{performed_status}], [undef, 200],
          'lost_answer: logged as unanswered, performed with 200');
$r = call(POST => $conv_msgs, json => {content => 'lost', source_id => 'WAID:L1'});
is($r->{code}, 200, 'the retry succeeds ...');
@lost = grep { ($_->{source_id} // '') eq 'WAID:L1' } @{state()->{conversations}[0]{messages}};
is(scalar @lost, 2, '... and makes a duplicate');

faults({kind => 'lost_answer', method => 'POST', path_regex => '/messages$', count => 1, rst => JSON::PP::true});
is(raw_outcome(POST => $conv_msgs, {content => 'lost again', source_id => 'WAID:L2'}), 'reset',
   'lost_answer with rst: an RST on the wire');
is(scalar(grep { ($_->{source_id} // '') eq 'WAID:L2' } @{state()->{conversations}[0]{messages}}), 1,
   'lost_answer with rst: performed');

# probability with a seeded RNG: the same seed gives the same pattern.
my @patterns;
for (1 .. 2) {
    control(POST => 'faults', {seed => 42, rules => [{kind => '503', path_regex => '/profile$',
                                                      probability => 0.5}]});
    push @patterns, join '', map { call(GET => '/api/v1/profile')->{code} == 503 ? 'x' : '.' } 1 .. 16;
}
is($patterns[0], $patterns[1], "probability: seeded, reproducible ($patterns[0])");
like($patterns[0], qr/x/, 'probability: some requests fail');
like($patterns[0], qr/\./, 'probability: some pass');
faults({kind => '500', path_regex => '/profile$', skip => 1, count => 2});
is(join(',', map { call(GET => '/api/v1/profile')->{code} } 1 .. 4), '200,500,500,200',
   'skip 1, count 2');
my $rules = control(GET => 'faults')->{rules};
is_deeply([@{$rules->[0]}{qw(matched fired count)}], [3, 2, 0],
          'the rule counters (a spent rule matches nothing more)');
faults();
is(call(GET => '/api/v1/profile')->{code}, 200, 'an empty list clears the faults');
ok(!eval { faults({kind => 'teapot'}); 1 } && $@ =~ /unknown kind/, 'an unknown fault kind is refused');
ok(!eval { faults({kind => '500', path_regex => '('}); 1 } && $@ =~ /bad path_regex/,
   'a bad path_regex is refused');

###########################################################################
note 'the webhook signer';

my $vector_body = '{"event":"conversation_typing_on","is_private":false}';
is(ChatwootTest::FakeChatwoot::sign('kP3vXw9tQm2LzR8aYc4NbE7d', 1781950562, $vector_body),
   'sha256=f9ce89e7c56d2be634d2be68d523c28bde433664285ed9f151f2c7cc2b2b5290',
   "sign() gives CONTRACT's test vector");
is('sha256=' . hmac_sha256_hex("1781950562.$vector_body", 'kP3vXw9tQm2LzR8aYc4NbE7d'),
   'sha256=f9ce89e7c56d2be634d2be68d523c28bde433664285ed9f151f2c7cc2b2b5290',
   'and so does Digest::SHA on "ts.body"');

my $sink = "$BASE/__fake/sink";
my $w = control(POST => 'webhook', {url => $sink, secret => 'kP3vXw9tQm2LzR8aYc4NbE7d',
                                    timestamp => 1781950562, body => $vector_body});
is($w->{status}, 200, 'webhook: the target answered 200');
is($w->{signature}, 'sha256=f9ce89e7c56d2be634d2be68d523c28bde433664285ed9f151f2c7cc2b2b5290',
   'webhook: the test vector signature');
my $got = state()->{sink}[-1];
is($got->{body}, $vector_body, 'webhook: the exact body');
my %gh = map { lc($_) => $got->{headers}{$_} } keys %{$got->{headers}};
is($gh{'content-type'}, 'application/json', 'webhook: Content-Type');
is($gh{accept}, 'application/json', 'webhook: Accept');
is($gh{'x-chatwoot-timestamp'}, '1781950562', 'webhook: X-Chatwoot-Timestamp');
is($gh{'x-chatwoot-signature'}, 'sha256=' . hmac_sha256_hex("1781950562.$vector_body", 'kP3vXw9tQm2LzR8aYc4NbE7d'),
   'webhook: X-Chatwoot-Signature verifies');
like($gh{'x-chatwoot-delivery'}, qr/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
     'webhook: X-Chatwoot-Delivery is a UUID');

$w = control(POST => 'webhook', {url => $sink, secret => 'inbox-secret', event => 'message_created',
                                 payload => {id => 3022, content => 'a<b', message_type => 'outgoing'}});
like($w->{body}, qr/^\{.*,"event":"message_created"\}$/, 'payload + event: event merged in last');
like($w->{body}, qr/"content":"a\\u003cb"/, 'payload: Rails JSON escapes');
$got = state()->{sink}[-1];
%gh = map { lc($_) => $got->{headers}{$_} } keys %{$got->{headers}};
is($gh{'x-chatwoot-signature'}, 'sha256=' . hmac_sha256_hex("$gh{'x-chatwoot-timestamp'}.$got->{body}", 'inbox-secret'),
   'payload: the signature verifies over "ts.body"');
is($w->{delivery}, $gh{'x-chatwoot-delivery'}, 'the delivery id is reported');
$w = control(POST => 'webhook', {url => $sink, body => '{"event":"x"}'});
$got = state()->{sink}[-1];
%gh = map { lc($_) => 1 } keys %{$got->{headers}};
ok(!$gh{'x-chatwoot-signature'} && !$gh{'x-chatwoot-timestamp'} && $gh{'x-chatwoot-delivery'},
   'no secret: no timestamp or signature, a delivery id still');
$w = control(POST => 'webhook', {url => "$sink?status=500", secret => 's', body => '{}'});
is_deeply([$w->{status}, $w->{error}], [500, '500 Internal Server Error'],
          'a failing target: its status, and the error text Chatwoot records');
$w = control(POST => 'webhook', {url => 'http://127.0.0.1:' . free_port() . '/', body => '{}', timeout => 2});
ok(!defined $w->{status} && $w->{error}, 'an unreachable target: no status, an error');
is(scalar @{state()->{webhooks}}, 5, 'the deliveries are in the state');

###########################################################################
note 'webhooks sent by the fake itself (webhooks => 1)';

# The sink records what arrives: the deliveries of one message, waited for
# by polling the state (the fake posts them right after its answer).
sub sink_for {
    my ($message_id, $count, $what) = @_;
    my $deadline = time + 10;
    while (1) {
        my @got = grep { my $got_body = eval { $JSON->decode(Mojo::Util::encode('UTF-8', $_->{body})) };
                         $got_body && ($got_body->{id} // -1) == $message_id } @{state()->{sink}};
        return @got if @got >= $count;
        if (time > $deadline) {
            fail("$what: $count deliveries of message $message_id (got " . scalar(@got) . ')');
            return @got;
        }
        Time::HiRes::sleep(0.05);
    }
}
sub delivered_body { $JSON->decode(Mojo::Util::encode('UTF-8', $_[0]{body})) }
sub headers_of { my ($d) = @_; return {map { lc($_) => $d->{headers}{$_} } keys %{$d->{headers}}} }

my $sink_before = scalar @{state()->{sink}};
my $hook_contact = call(POST => "$A/contacts", json => {
    name => 'Hook Person', identifier => '4915100000077@s.whatsapp.net', phone_number => '+4915100000077',
    inbox_id => 7, source_id => '4915100000077@s.whatsapp.net'})->{json}{payload}{contact};
my $hook_conv = call(POST => "$A/conversations", json => {
    contact_id => $hook_contact->{id}, inbox_id => 7, source_id => '4915100000077@s.whatsapp.net'})->{json};
my $quiet = call(POST => "$A/conversations/$hook_conv->{id}/messages",
                 json => {content => 'before webhooks', message_type => 'outgoing'})->{json};
control(POST => 'config', {webhooks => JSON::PP::true, inbox => {webhook_url => $sink}});
my $incoming = call(POST => "$A/conversations/$hook_conv->{id}/messages",
                    json => {content => 'Oi', message_type => 'incoming', source_id => 'WAID:HOOK1'})->{json};
my $reply = call(POST => "$A/conversations/$hook_conv->{id}/messages",
                 json => {content => "Line one\\\nline two\n\n", message_type => 'outgoing'})->{json};
my ($d_in) = sink_for($incoming->{id}, 1, 'an incoming message');
my ($d_out) = sink_for($reply->{id}, 1, 'an agent reply');
is(scalar(grep { (eval { delivered_body($_)->{id} } // 0) == $quiet->{id} } @{state()->{sink}}), 0,
   'webhooks off (the default): nothing was sent for a message made then');

my $h = headers_of($d_out);
is($h->{'x-chatwoot-signature'}, 'sha256=' . hmac_sha256_hex("$h->{'x-chatwoot-timestamp'}.$d_out->{body}", 'inbox-secret'),
   "message_created: signed with the inbox's secret over \"ts.body\"");
like($h->{'x-chatwoot-delivery'}, qr/^[0-9a-f-]{36}$/, 'message_created: a delivery id');
is($h->{'content-type'}, 'application/json', 'message_created: Content-Type');
like($d_out->{body}, qr/,"event":"message_created"\}\z/, 'message_created: event merged in last');
my $wb = delivered_body($d_out);
keys_are($wb, [qw(account additional_attributes content content_attributes content_type conversation
                 created_at event id inbox message_type private sender source_id)],
         "message_created: Message#webhook_data's keys (no attachments key without attachments)");
is_deeply([@$wb{qw(id message_type event)}], [$reply->{id}, 'outgoing', 'message_created'],
          'message_created: the message id, message_type as the word');
is($wb->{content}, "Line one\nline two", 'message_created: content normalised (hard break, trailing newlines)');
ok(is_bool($wb->{private}) && !$wb->{private}, 'message_created: private false');
ok(exists $wb->{source_id} && !defined $wb->{source_id}, 'message_created: source_id null for an agent reply');
is_deeply($wb->{sender}, {id => 3, name => 'Ana', email => 'ana@acme.test', type => 'user'},
          "message_created: an agent's sender is User#webhook_data");
is_deeply($wb->{inbox}, {id => 7, name => 'WhatsApp'}, 'message_created: inbox {id, name}');
is_deeply($wb->{account}, {id => 1, name => 'Acme'}, 'message_created: account {id, name}');
like($wb->{created_at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'message_created: created_at as ISO time');
my $bc = $wb->{conversation};
keys_are($bc, [qw(account additional_attributes agent_last_seen_at can_reply channel contact_inbox
                  contact_last_seen_at created_at custom_attributes first_reply_created_at id inbox_id
                  labels last_activity_at messages meta priority snoozed_until status timestamp
                  unread_count updated_at waiting_since)], "the conversation: Conversation#webhook_data's keys");
is($bc->{id}, $hook_conv->{id}, 'the conversation: its display id');
is($bc->{contact_inbox}{source_id}, '4915100000077@s.whatsapp.net', 'the conversation: contact_inbox.source_id');
keys_are($bc->{contact_inbox}, [qw(contact_id created_at hmac_verified id inbox_id pubsub_token source_id updated_at)],
         'the conversation: the whole contact_inbox record');
keys_are($bc->{meta}, [qw(assignee assignee_type hmac_verified sender team)], 'the conversation: meta');
is_deeply([@{$bc->{meta}{sender}}{qw(id identifier phone_number type)}],
          [$hook_contact->{id}, '4915100000077@s.whatsapp.net', '+4915100000077', 'contact'],
          'the conversation: meta.sender is the contact');
is(scalar @{$bc->{messages}}, 1, 'the conversation: one message in messages');
is($bc->{messages}[0]{id}, $reply->{id}, 'the conversation: the newest one');
ok(is_int($bc->{messages}[0]{message_type}), 'the conversation: messages[] with message_type as a number');
is_deeply($bc->{account}, {id => 1, name => 'Acme'}, 'the conversation: account');

my $bi = delivered_body($d_in);
is_deeply([@$bi{qw(message_type source_id content)}], ['incoming', 'WAID:HOOK1', 'Oi'],
          "an incoming message (the bridge's own post comes back)");
keys_are($bi->{sender}, [qw(account additional_attributes avatar blocked custom_attributes email id identifier
                            name phone_number thumbnail)], "an incoming message's sender: Contact#webhook_data, no type");
is($bi->{sender}{identifier}, '4915100000077@s.whatsapp.net', 'the sender is the contact');

my $note = call(POST => "$A/conversations/$hook_conv->{id}/messages",
                json => {content => 'internal', message_type => 'outgoing', private => JSON::PP::true})->{json};
my ($d_note) = sink_for($note->{id}, 1, 'a private note');
my $bn = delivered_body($d_note);
ok(is_bool($bn->{private}) && $bn->{private}, 'a private note is sent too, private true');
is($bn->{conversation}{messages}[0]{id}, $reply->{id}, "the conversation's messages skip private notes");

my $with_file = call(POST => "$A/conversations/$hook_conv->{id}/messages", form => {
    content => 'see file', message_type => 'outgoing',
    'attachments[]' => [{content => 'PDF', filename => 'doc.pdf', 'Content-Type' => 'application/pdf'}]})->{json};
my ($d_file) = sink_for($with_file->{id}, 1, 'a message with an attachment');
my $bf = delivered_body($d_file);
is(scalar @{$bf->{attachments} // []}, 1, 'attachments: present when the message has some');
is_deeply([@{$bf->{attachments}[0]}{qw(file_type extension message_id)}], ['file', 'pdf', $with_file->{id}],
          'attachments: Attachment#push_event_data');

# message_updated: a status change, a deletion; nothing for a change to nothing.
call(PATCH => "$A/conversations/$hook_conv->{id}/messages/$reply->{id}", json => {status => 'delivered'});
my (undef, $d_upd) = sink_for($reply->{id}, 2, 'a status update');
my $bu = delivered_body($d_upd);
is($bu->{event}, 'message_updated', 'a status PATCH: message_updated');
is($bu->{id}, $reply->{id}, 'for that message (whose body has no status field, as in Chatwoot)');
ok(!exists $bu->{status}, 'no status key in the message body');
call(PATCH => "$A/conversations/$hook_conv->{id}/messages/$reply->{id}", json => {status => 'delivered'});
call(DELETE => "$A/conversations/$hook_conv->{id}/messages/$with_file->{id}");
my (undef, $d_del) = sink_for($with_file->{id}, 2, 'a deletion');
is_deeply([@{delivered_body($d_del)}{qw(event content)}], ['message_updated', 'This message was deleted'],
          'a deletion: message_updated with the deleted text');
ok(!exists delivered_body($d_del)->{attachments}, 'a deletion: its attachments gone');
is(scalar(grep { ($_->{message_id} // 0) == $reply->{id} } @{state()->{webhooks}}), 2,
   'a PATCH that changes nothing sends nothing');

# A conversation made with its first message: that message's
# message_created too.
my $with_first = call(POST => "$A/conversations", json => {
    contact_id => $hook_contact->{id}, inbox_id => 7, source_id => '4915100000077@s.whatsapp.net',
    message => {content => 'first words'}})->{json};
my ($first_id) = map { $_->{id} } @{$with_first->{messages} // []};
my ($d_first) = sink_for($first_id // -1, 1, "a conversation's first message");
is_deeply([@{delivered_body($d_first)}{qw(event content)}], ['message_created', 'first words'],
          "a conversation create's message: message_created");
is(delivered_body($d_first)->{conversation}{id}, $with_first->{id}, 'in the new conversation');

# A failed delivery marks the message failed (Trigger#handle_error), once.
control(POST => 'config', {inbox => {webhook_url => "$sink?status=500"}});
my $doomed = call(POST => "$A/conversations/$hook_conv->{id}/messages",
                  json => {content => 'to a broken target', message_type => 'outgoing'})->{json};
my @doomed = sink_for($doomed->{id}, 2, 'a delivery that fails');
is_deeply([map { delivered_body($_)->{event} } @doomed], [qw(message_created message_updated)],
          'a failed delivery: message_created, then message_updated');
is(delivered_body($doomed[1])->{content_attributes}{external_error}, '500 Internal Server Error',
   "message_updated carries the error as content_attributes.external_error");
my ($doomed_state) = grep { $_->{id} == $doomed->{id} } map { @{$_->{messages}} } @{state()->{conversations}};
is($doomed_state->{status}, 'failed', 'the message is failed');
my @records = grep { ($_->{message_id} // 0) == $doomed->{id} } @{state()->{webhooks}};
is_deeply([map { [$_->{event}, $_->{status}] } @records], [['message_created', 500], ['message_updated', 500]],
          'the deliveries are in the state with event and status; the second failure changes nothing more');
control(POST => 'config', {webhooks => JSON::PP::false, inbox => {webhook_url => undef}});

###########################################################################
note 'state and reset';

$st = state();
keys_are($st, [qw(account config contact_inboxes contacts conversations faults inboxes
                  requests sink user webhooks)], 'state: its parts');
is_deeply([map { $_->{display_id} } @{$st->{conversations}}], [1 .. @{$st->{conversations}}],
          'state: conversations by display id');
my @seq = map { $_->{id} } @{$st->{conversations}[0]{messages}};
is_deeply(\@seq, [sort { $a <=> $b } @seq], 'state: messages in order');
my ($req) = grep { $_->{path} eq "$A/contacts" && $_->{method} eq 'POST' && ($_->{status} // 0) == 200 }
    @{$st->{requests}};
keys_within($req, [qw(seq time method path query content_type status fault warnings params user_agent
                      route performed_status body_error client_gone fake_error host api_token_sent)], 'state: request entries');
is_deeply([@$req{qw(method status route)}], ['POST', 200, 'POST /api/v1/accounts/{account_id}/contacts'],
          'state: a logged request, with the route it took');
is($req->{params}{name}, 'Maria Silva', 'state: with its parameters');
ok(!grep({ $_->{path} =~ m{^/__fake} } @{$st->{requests}}), 'state: control requests are not logged');
my $secret_before = $st->{inboxes}[0]{hmac_token};
control(POST => 'reset');
$st = state();
is($st->{inboxes}[0]{hmac_token}, $secret_before, 'reset: the inbox keeps its tokens');
is_deeply([map { scalar @{$st->{$_}} } qw(contacts contact_inboxes conversations requests webhooks)],
          [0, 0, 0, 0, 0], 'reset: empty');
$r = call(POST => "$A/conversations", json => {source_id => $maria_sid});
is($r->{code}, 404, 'reset: the old contact inboxes are gone');
my $nc = call(POST => "$A/contacts", json => {name => 'Again', identifier => $maria_sid,
                                              inbox_id => 7, source_id => $maria_sid})->{json};
is($nc->{payload}{contact}{id}, $maria->{id}, 'reset: ids start over');
is(call(POST => "$A/conversations", json => {source_id => $maria_sid})->{json}{id}, 1,
   'reset: display ids start over');

note 'spawn and the class helpers';
my $p2 = ChatwootTest::FakeChatwoot->spawn($t, account => 5, token => 'other', inbox => {id => 9});
my $r2 = $ua->get("http://127.0.0.1:$p2/api/v1/accounts/5/inboxes/9" => {api_access_token => 'other'})->result;
is($r2->code, 200, 'spawn: a second fake with its own account, token and inbox');
ChatwootTest::FakeChatwoot->set_faults($p2, {kind => '503', path_regex => '.', count => 1});
is($ua->get("http://127.0.0.1:$p2/api/v1/profile" => {api_access_token => 'other'})->result->code, 503,
   'set_faults');
is(scalar @{ChatwootTest::FakeChatwoot->get_state($p2)->{requests}}, 2, 'get_state');
ChatwootTest::FakeChatwoot->reset_fake($p2);
is(scalar @{ChatwootTest::FakeChatwoot->get_state($p2)->{requests}}, 0, 'reset_fake');

$t->stop_daemons;
done_testing;
