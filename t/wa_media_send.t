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
# 503 is retried; a helper killed between two parts, or as soon as an
# upload reached WhatsApp, ends with each part on WhatsApp exactly once; a
# group gets one skmsg; a deletion revokes every part; a retry receipt gets
# the image again as a media stanza.  While a big document is encrypted for
# its upload, the helper goes on serving: a contact's text that arrives
# then reaches Chatwoot before the upload does WhatsApp.
use strict;
use warnings;
use utf8;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::WaMock;
use ChatwootTest::FakeChatwoot;
use ChatwootTest::MediaFiles qw(media_bytes ffprobe_streams ffmpeg_decodes noise_bytes);
use ChatwootTest::Payloads qw(message_created for_chat);
use Digest::SHA qw(sha256_hex);
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use Time::HiRes ();
use Mojo::UserAgent;
use Test::More;

my $t = ChatwootTest->new;
$t->allow_log(qr/cache manager process \d+ exited on signal 9/);
$t->allow_log(qr/WhatsApp media not uploaded/);
$t->allow_log(qr/cannot go to WhatsApp/);
my $dir = $t->dir;
$t->tls_test_certs('ca');

my $wa = ChatwootTest::WaMock->start_tls_media($t);
my $fake = free_port();
my ($port) = $t->start_wa(
    wa => $wa, fake => { port => $fake },
    directive => $wa->directive(tls => 1, ca_file => "$dir/ca.pem")
        . "\n        whatsapp_media_max 30m;\n        media_host http://localhost:$fake;");
my $p = $t->pair_qr($wa, 'main');
$wa->wait(type => 'passive', conn => $p->{login}{conn});

my $ana = $wa->wa_contact('4915100000001', name => 'Ana');


# Many megabytes quickly: a megabyte of bytes_of, repeated.
sub big_bytes {
    my ($n, $seed) = @_;
    my $mb = noise_bytes(1 << 20, $seed);
    return substr($mb x (int($n / length $mb) + 1), 0, $n);
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
    [image    => 'photo.jpg',  'image/jpeg',      media_bytes('jpg', 1), 'image'],
    [document => 'Relatório final.pdf', 'application/pdf', noise_bytes(30_001, 2), 'file'],
    [audio    => 'song.mp3',   'audio/mpeg',      media_bytes('mp3', 3), 'audio'],
    [video    => 'clip.mp4',   'video/mp4',       media_bytes('mp4', 4), 'video'],
);
my $mid = 8000;
my $first_image;
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
    $first_image //= $media_id if $kind eq 'image';
}

# A retry receipt for the image: it goes again as a media stanza.
{
    my $since = $wa->last_seq;
    $wa->wa_retry(from => '4915100000001', device => 0, id => $first_image, fresh_session => 1);
    my $again = $t->wait_for(sub {
        my ($e) = grep { $_->{type} =~ /delivered$/ } @{$wa->events(id => $first_image, since => $since)};
        $e;
    }, 20, 'the image delivered again after a retry receipt');
    ok($again->{message}{imageMessage}, 'the resend is the image message');
    my ($stanza) = grep { ($_->{node}{attrs}{id} // '') eq $first_image }
        @{$wa->events(type => 'received', tag => 'message', since => $since)};
    is($stanza->{node}{attrs}{type}, 'media', 'as a media stanza, like the first time');
}


# --- what ffmpeg makes of them (src/helper/media_prep) -------------------------
# A voice note recorded in Chatwoot (its recorder names files <uuid>.webm in
# Chrome) arrives as OGG/Opus, mono, 48 kHz, ptt, with a 64-bar waveform and
# its seconds; the image above carried a JPEG thumbnail and its size; a WebP
# goes as a JPEG; bytes that are no picture, named photo.jpg, go as a document
# under their name rather than being lost.
sub one_reply {
    my ($name, $type, $file_type, $bytes, $content, $messages) = @_;
    my $a = blob(filename => $name, content_type => $type, bytes => $bytes, file_type => $file_type);
    my $m = chatwoot_message($content // "sending $name");
    my @d = send_reply(id => $m, content => $content, attachments => [$a], what => $name,
                       messages => $messages // 1);
    $t->wait_for(sub { outbox_state($m) eq 'sent' }, 30, "$name: the reply is sent");
    return $d[-1];
}
{
    my ($img) = grep { $_->{type} eq 'delivered' && $_->{to} eq $ana->{lid} }
        @{$wa->events(id => $first_image)};
    my $im = $img->{message}{imageMessage} // {};
    my ($w) = ffprobe_streams(media_bytes('jpg', 1));
    is_deeply([$im->{width}, $im->{height}], [$w->[0]{width}, $w->[0]{height}], 'image: its width and height');
    my $thumb = MIME::Base64::decode_base64($im->{jpegThumbnail} // '');
    ok(length $thumb > 0 && length $thumb <= 10_240, 'image: a JPEG thumbnail of at most 10 KB');
    my ($ts) = ffprobe_streams($thumb) if length $thumb;
    is($ts && $ts->[0]{codec_name}, 'mjpeg', 'image: the thumbnail is a JPEG');
    ok(($ts->[0]{width} // 999) <= 100 && ($ts->[0]{height} // 999) <= 100, 'image: the thumbnail is small');

    my $voice = media_bytes('webm', 5);
    # A voice note shows no caption: the agent's signature goes first, alone.
    my $d = one_reply('3f2c9b1e-5a7d-4c1b-9e2f-8a6b4d3c2e10.webm', 'audio/webm', 'audio', $voice, undef, 2);
    my $r = $wa->wait_media_received($d->{id}, timeout => 30);
    ok($r->{ok}, 'voice note: the contact fetched, checked and decrypted it') or diag explain $r;
    is($r->{kind}, 'ptt', 'voice note: sent as ptt');
    is($r->{mimetype}, 'audio/ogg; codecs=opus', 'voice note: its mimetype');
    my $plain = $wa->media_plain($d->{id});
    my ($st, $fmt) = ffprobe_streams($plain->{bytes});
    is($fmt->{format_name}, 'ogg', 'voice note: an OGG file');
    is($st->[0]{codec_name}, 'opus', 'voice note: Opus');
    is($st->[0]{channels}, 1, 'voice note: mono');
    is($st->[0]{sample_rate}, 48000, 'voice note: 48 kHz');
    ok(ffmpeg_decodes($plain->{bytes}), 'voice note: ffmpeg decodes all of it without an error');
    my $am = $d->{message}{audioMessage} // {};
    ok($am->{ptt}, 'voice note: ptt set');
    is($am->{seconds}, 2, 'voice note: two seconds');
    my $wave = MIME::Base64::decode_base64($am->{waveform} // '');
    is(length $wave, 64, 'voice note: a waveform of 64 bars');
    ok((grep { $_ > 0 } unpack('C*', $wave)) > 32, 'voice note: the sine shows in the waveform');

    my $webp = media_bytes('webp', 6);
    $d = one_reply('sticker-like.webp', 'image/webp', 'image', $webp, 'a webp');
    $r = $wa->wait_media_received($d->{id}, timeout => 30);
    ok($r->{ok}, 'webp: the contact fetched, checked and decrypted it');
    is($r->{kind}, 'image', 'webp: sent as an image');
    is($r->{mimetype}, 'image/jpeg', 'webp: as a JPEG');
    ($st) = ffprobe_streams($wa->media_plain($d->{id})->{bytes});
    is($st->[0]{codec_name}, 'mjpeg', 'webp: the bytes are a JPEG');

    my $junk = noise_bytes(5_000, 7);
    $d = one_reply('photo.jpg', 'image/jpeg', 'image', $junk, 'not a picture');
    $r = $wa->wait_media_received($d->{id}, timeout => 30);
    ok($r->{ok}, 'not a picture: the contact fetched, checked and decrypted it');
    is($r->{kind}, 'document', 'not a picture: sent as a document');
    is($r->{file_name}, 'photo.jpg', 'not a picture: under its name');
    is($r->{sha256}, sha256_hex($junk), 'not a picture: the bytes as attached');
    $t->wait_for(sub { $t->read_file('error.log') =~ /photo\.jpg|goes as a document/ }, 10,
                 'not a picture: the log says why it went as a document');
}

# A reply that fails in Chatwoot: marked failed there with the reason.
sub failed_in_chatwoot {
    my ($m, $what) = @_;
    return $t->wait_for(sub {
        my $s = ChatwootTest::FakeChatwoot->get_state($fake);
        my ($c) = grep { $_->{display_id} == $conv } @{$s->{conversations}};
        my ($x) = grep { $_->{id} == $m && ($_->{status} // '') eq 'failed' } @{$c->{messages} // []};
        $x;
    }, 30, "$what: marked failed in Chatwoot");
}

sub deliveries_since {
    my ($since) = @_;
    return [grep { $_->{to} eq $ana->{lid} } @{$wa->events(type => 'delivered', since => $since)}];
}

# --- three attachments: three messages in order, one Chatwoot message -----
# The first upload answers 503: the ids of all three are committed before
# anything went, and the upload is tried again.
{
    my @files = map { [ "part$_.jpg", media_bytes('jpg', 10 + $_) ] } 1 .. 3;
    my @atts = map { blob(filename => $_->[0], content_type => 'image/jpeg', bytes => $_->[1],
                          file_type => 'image') } @files;
    my $m = chatwoot_message('three photos');
    $wa->media_fail(count => 1, op => 'upload', mode => 'status', status => 503);
    my $since = $wa->last_seq;
    webhook_ok(message_created(id => $m, conversation => $conv, phone => '+4915100000001',
                               content => 'three photos', attachments => \@atts), 'three attachments');
    $wa->wait_match('media-upload-failed', since => $since, timeout => 30);
    my $rows = $t->sql(qq{SELECT p.part, p.wa_id FROM outbox_parts p JOIN outbox o ON o.id = p.outbox_id
                          WHERE o.chatwoot_message_id = $m ORDER BY p.part});
    is(scalar @$rows, 3, 'three parts filed');
    my @ids = map { $_->[1] } @$rows;
    is(scalar(grep { length } @ids), 3, 'each with its WhatsApp id, before the first upload went through');
    is_deeply(deliveries_since($since), [], 'nothing sent yet');
    my @got;
    for (1 .. 3) {
        my $d = $wa->wait_match('delivered', to => $ana->{lid}, since => $since, timeout => 30);
        $since = $d->{seq};
        push @got, $d;
    }
    is_deeply([map { $_->{id} } @got], \@ids, 'three WhatsApp messages, in Chatwoot\'s order, under the committed ids');
    for my $i (0 .. 2) {
        my $r = $wa->wait_media_received($ids[$i], timeout => 30);
        ok($r->{ok}, "part $i checked and decrypted");
        is($r->{sha256}, sha256_hex($files[$i][1]), "part $i: its bytes");
        if ($i == 0) {
            like($r->{caption} // '', qr/three photos\z/, 'the caption on the first');
        } else {
            ok(!length($r->{caption} // ''), "no caption on part $i");
        }
    }
    $t->wait_for(sub { outbox_state($m) eq 'sent' }, 20, 'the reply is sent once every part was acked');
    my $sent = $t->sql(qq{SELECT wa_id FROM wa_sent WHERE chatwoot_message_id = $m ORDER BY wa_id});
    is_deeply([map { $_->[0] } @$sent], [sort @ids], 'every part is mapped to the one Chatwoot message');

    # The agent deletes it: every part is revoked.
    $since = $wa->last_seq;
    webhook_ok(ChatwootTest::Payloads::message_updated(
                   id => $m, conversation => $conv, phone => '+4915100000001',
                   content => 'This message was deleted', content_attributes => { deleted => JSON::PP::true }),
               'the deletion of the three');
    my %revoked;
    for (1 .. 3) {
        my $d = $wa->wait_match('delivered', to => $ana->{lid}, since => $since, timeout => 30);
        $since = $d->{seq};
        my $pm = $d->{message}{protocolMessage} // {};
        $revoked{$pm->{key}{id} // ''}++;
    }
    is_deeply(\%revoked, { map { $_ => 1 } @ids }, 'each part revoked once');
    $t->wait_for(sub { $t->sql(qq{SELECT state FROM outbox WHERE chatwoot_message_id = $m AND action = 'delete'})->[0][0] eq 'sent' },
                 20, 'the deletion is through');
}

# --- refusals: nothing sent, the reason in Chatwoot -----------------------
sub refused {
    my ($what, $attachment, $reason) = @_;
    my $m = chatwoot_message($what);
    my $since = $wa->last_seq;
    webhook_ok(message_created(id => $m, conversation => $conv, phone => '+4915100000001',
                               content => $what, attachments => [$attachment]), $what);
    my $x = failed_in_chatwoot($m, $what);
    like($x->{content_attributes}{external_error} // '', $reason, "$what: the agent reads why");
    $t->wait_for(sub { outbox_state($m) eq 'failed' }, 20, "$what: the entry failed");
    is_deeply(deliveries_since($since), [], "$what: nothing sent to WhatsApp");
    is_deeply($wa->events(type => 'media-upload', since => $since), [], "$what: nothing uploaded");
}
{
    my $a = blob(filename => 'elsewhere.jpg', content_type => 'image/jpeg', bytes => noise_bytes(1000, 20),
                 file_type => 'image');
    (my $other = $a->{data_url}) =~ s{^http://127\.0\.0\.1:\d+}{http://127.0.0.2:$fake};
    refused('an attachment on another host', {%$a, data_url => $other}, qr/not on this Chatwoot's host/);

    my $b = blob(filename => 'redirected.jpg', content_type => 'image/jpeg', bytes => noise_bytes(1000, 21),
                 file_type => 'image', storage_base => "http://127.0.0.3:$fake");
    refused('a redirect to a host not named', $b, qr/redirected it to a host that is not allowed/);

    my $c = blob(filename => 'big.pdf', content_type => 'application/pdf', bytes => big_bytes(31 << 20, 22),
                 file_type => 'file');
    refused('an oversize attachment', $c, qr/over the 30m limit/);
}

# --- a redirect to the storage host media_host names -------------------------
{
    my $bytes = media_bytes('jpg', 30);
    my $a = blob(filename => 's3.jpg', content_type => 'image/jpeg', bytes => $bytes, file_type => 'image',
                 storage_base => "http://localhost:$fake");
    my $m = chatwoot_message('from storage');
    my $before = scalar @{ChatwootTest::FakeChatwoot->get_state($fake)->{requests}};
    my ($d) = send_reply(id => $m, content => 'from storage', attachments => [$a], what => 'a stored file');
    my $r = $wa->wait_media_received($d->{id}, timeout => 30);
    ok($r->{ok}, 'a file on the storage host arrives');
    is($r->{sha256}, sha256_hex($bytes), 'its bytes');
    my @reqs = @{ChatwootTest::FakeChatwoot->get_state($fake)->{requests}};
    @reqs = @reqs[$before .. $#reqs];
    my ($redirect) = grep { $_->{path} =~ m{/blobs/redirect/} } @reqs;
    my ($disk) = grep { $_->{path} =~ m{/active_storage/disk/} } @reqs;
    ok($redirect && $redirect->{host} =~ /^127\.0\.0\.1:/, 'the redirect was asked of Chatwoot');
    ok($disk && $disk->{host} =~ /^localhost:/, 'the file was fetched from the storage host');
    ok($redirect && $redirect->{api_token_sent}, 'Chatwoot got the API token');
    ok($disk && !$disk->{api_token_sent}, 'the storage host never did');
}

# --- a helper killed between two parts ----------------------------------------
# The first part is uploaded and acked; the second's uploads fail until the
# helper is killed.  The next helper sends neither the first again nor
# uploads it again, and the second arrives once.
{
    my @files = map { [ "kill$_.jpg", media_bytes('jpg', 40 + $_) ] } 1 .. 2;
    my @atts = map { blob(filename => $_->[0], content_type => 'image/jpeg', bytes => $_->[1],
                          file_type => 'image') } @files;
    my $m = chatwoot_message('before and after');
    my $since = $wa->last_seq;
    webhook_ok(message_created(id => $m, conversation => $conv, phone => '+4915100000001',
                               content => 'before and after', attachments => \@atts), 'two attachments');
    my $first = $wa->wait_match('delivered', to => $ana->{lid}, since => $since, timeout => 30);
    $wa->media_fail(count => 1000, op => 'upload', mode => 'status', status => 503);
    $wa->wait_match('media-upload-failed', since => $first->{seq}, timeout => 30);
    my $helper = $t->status->{helper}{pid};
    kill 'KILL', $helper;
    $wa->media_fail(count => 0, op => 'upload');
    $t->wait_for(sub { my $s = eval { $t->status }; $s && $s->{helper}{pid} && $s->{helper}{pid} != $helper },
                 30, 'a new helper');
    $t->wait_for(sub { outbox_state($m) eq 'sent' }, 60, 'the reply is sent after the kill');
    my @ds = @{deliveries_since($since)};
    my %count;
    $count{$_->{id}}++ for @ds;
    is(scalar(keys %count), 2, 'two WhatsApp messages');
    is_deeply([values %count], [1, 1], 'each delivered exactly once');
    my $rows = $t->sql(qq{SELECT p.wa_id FROM outbox_parts p JOIN outbox o ON o.id = p.outbox_id
                          WHERE o.chatwoot_message_id = $m ORDER BY p.part});
    my $r = $wa->wait_media_received($rows->[1][0], timeout => 30);
    is($r->{sha256}, sha256_hex($files[1][1]), 'the second part arrived whole');
    my $ups = grep { $_->{mms_type} eq 'image' } @{$wa->events(type => 'media-upload', since => $since)};
    is($ups, 2, 'each part uploaded once');
    my $x = ChatwootTest::FakeChatwoot->get_state($fake);
    my ($c) = grep { $_->{display_id} == $conv } @{$x->{conversations}};
    my ($msg) = grep { $_->{id} == $m } @{$c->{messages}};
    isnt($msg->{status} // '', 'failed', 'the Chatwoot message is not failed');
    my @left = glob("$t->{state}/media/*");
    is(scalar @left, 0, 'no file left in the media store') or diag "@left";
}

# --- a group: one skmsg carries the media to every member ----------------------
{
    my $bo = $wa->wa_contact('4915100000002', name => 'Bo');
    my $g = $wa->wa_group(subject => 'Team', addressing_mode => 'lid',
                          participants => ['4915100000001', '4915100000002']);
    my $bytes = media_bytes('png', 60);
    my $a = blob(filename => 'team.png', content_type => 'image/png', bytes => $bytes, file_type => 'image');
    my $since = $wa->last_seq;
    webhook_ok(ChatwootTest::Payloads::for_chat(
                   message_created(id => 8900, conversation => 16, content => 'for the team',
                                   attachments => [$a]), $g->{jid}), 'a group reply with an image');
    my $d = $wa->wait_match('delivered', to => $bo->{lid}, enc => 'skmsg', since => $since, timeout => 30);
    my $r = $wa->wait_media_received($d->{id}, timeout => 30);
    ok($r->{ok}, 'a group member fetched, checked and decrypted it');
    is($r->{sha256}, sha256_hex($bytes), 'the group image: its bytes');
    is($r->{enc_mediatype}, 'image', 'the group stanza says mediatype=image');
    like($r->{caption} // '', qr/for the team\z/, 'with its caption');
    $t->wait_for(sub { outbox_state(8900) eq 'sent' }, 20, 'the group reply is sent');
}

# --- a helper killed as soon as an upload reached WhatsApp ---------------------
# Wherever the kill lands (before the upload's commit, before the send,
# before the ack), each part ends on WhatsApp exactly once, and an upload
# made again is the same blob (the same committed key).
{
    my @files = map { [ "race$_.pdf", noise_bytes(15_000 + $_, 50 + $_) ] } 1 .. 2;
    my @atts = map { blob(filename => $_->[0], content_type => 'application/pdf', bytes => $_->[1],
                          file_type => 'file') } @files;
    my $m = chatwoot_message('raced');
    my $since = $wa->last_seq;
    webhook_ok(message_created(id => $m, conversation => $conv, phone => '+4915100000001',
                               content => 'raced', attachments => \@atts), 'two documents');
    $wa->wait_match('media-upload', since => $since, timeout => 30);
    my $helper = $t->status->{helper}{pid};
    kill 'KILL', $helper;
    $t->wait_for(sub { my $s = eval { $t->status }; $s && $s->{helper}{pid} && $s->{helper}{pid} != $helper },
                 30, 'a new helper');
    $t->wait_for(sub { outbox_state($m) eq 'sent' }, 60, 'the reply is sent after the kill');
    my $rows = $t->sql(qq{SELECT p.wa_id FROM outbox_parts p JOIN outbox o ON o.id = p.outbox_id
                          WHERE o.chatwoot_message_id = $m ORDER BY p.part});
    for my $i (0 .. 1) {
        my $id = $rows->[$i][0];
        my $r = $wa->wait_media_received($id, timeout => 30);
        is($r->{sha256}, sha256_hex($files[$i][1]), "part $i arrived whole");
        my $n = grep { $_->{type} eq 'delivered' && $_->{to} eq $ana->{lid} } @{$wa->events(id => $id)};
        is($n, 1, "part $i reached Ana exactly once");
    }
    my %by_hash;
    $by_hash{$_->{enc_sha256}}++ for grep { $_->{mms_type} eq 'document' }
        @{$wa->events(type => 'media-upload', since => $since)};
    is(scalar keys %by_hash, 2, 'two blobs: an upload made again was the same bytes');
    ok(!grep({ $_ > 2 } values %by_hash), 'none uploaded more than twice');
}

# --- the event loop is served while a big upload is encrypted -----------------
# The document's blob is hashed before its upload can start (its URL names
# the enc SHA-256): that pass goes a slice per turn of the helper's loop.
# Ana's text, sent as soon as the document is in the media store (the
# download is over; the encryption comes next), reaches Chatwoot before the
# upload reaches the media host: its first request, refused 503 on arrival,
# marks when the encryption was over.  Encrypting the whole file at once on
# the loop held the text back until the upload had gone (checked by going
# back to that code once: this case failed).  The upload made again after
# the 503 delivers the document whole.
{
    my $size = 20 << 20;
    my $bytes = big_bytes($size, 70);
    my $a = blob(filename => 'big-report.pdf', content_type => 'application/pdf', bytes => $bytes,
                 file_type => 'file');
    my $m = chatwoot_message('the big report');
    $wa->media_fail(count => 1, op => 'upload', mode => 'status', status => 503);
    my $since = $wa->last_seq;
    my $before = scalar @{ChatwootTest::FakeChatwoot->get_state($fake)->{requests}};
    webhook_ok(message_created(id => $m, conversation => $conv, phone => '+4915100000001',
                               content => 'the big report', attachments => [$a]), 'a 20 MB document');
    my $media = "$t->{state}/media";
    my $deadline = Time::HiRes::time() + 60;
    my $fetched;
    until ($fetched) {
        ($fetched) = grep { !/\.(?:part|tmp)\z/ && -f $_ && -s _ == $size } glob("$media/*");
        last if $fetched || Time::HiRes::time() > $deadline;
        Time::HiRes::sleep(0.002);
    }
    ok($fetched, 'the document is fetched into the media store');
    my $text = $wa->wa_message(from => '4915100000001', message => { conversation => 'are you still there?' });
    my $failed = $wa->wait_match('media-upload-failed', since => $since, timeout => 30);
    my $in = $t->wait_for(sub {
        my @r = @{ChatwootTest::FakeChatwoot->get_state($fake)->{requests}};
        my ($post) = grep { $_->{method} eq 'POST' && $_->{path} =~ m{/conversations/\d+/messages\z} }
            @r[$before .. $#r];
        $post;
    }, 30, 'the text posted to Chatwoot');
    my $lead = $failed->{at} - 1000 * $in->{time};
    ok($lead > 0, 'the text reached Chatwoot before the upload reached WhatsApp')
        or diag sprintf('the upload came %.1f ms before the text', -$lead);
    note sprintf('the text was in Chatwoot %.1f ms before the upload began', $lead) if $lead > 0;
    my $d = $wa->wait_match('delivered', to => $ana->{lid}, since => $since,
                            id => $t->sql(qq{SELECT p.wa_id FROM outbox_parts p JOIN outbox o ON o.id = p.outbox_id
                                             WHERE o.chatwoot_message_id = $m})->[0][0], timeout => 60);
    my $r = $wa->wait_media_received($d->{id}, timeout => 60);
    ok($r->{ok}, 'the big document: fetched, checked and decrypted by the contact');
    is($r->{sha256}, sha256_hex($bytes), 'the big document: its bytes');
    $t->wait_for(sub { outbox_state($m) eq 'sent' }, 30, 'the big document is sent');
    my @left = glob("$media/*");
    is(scalar @left, 0, 'nothing left in the media store') or diag "@left";
}

done_testing;
