# The Perl side of the loopback WhatsApp server's media (ChatwootTest::WaMock
# media_* and wa_media_message helpers), on their own: each control call
# answers as the mock's header says and refuses what it should; the media
# hosts are the mock's own; nothing is uploaded for a message with no
# companion to go to; an upload without media_conn's auth is refused.  The
# uploads, downloads, media messages and media retries themselves are proved
# by t/mock/wa/test/media.test.mjs (a JS companion, Baileys' own helpers) and
# by the helper's black-box tests.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest;
use ChatwootTest::WaMock;
use Digest::SHA qw(sha256);
use MIME::Base64 qw(encode_base64url);
use Test::More;

my $t = ChatwootTest->new;
my $wa = ChatwootTest::WaMock->start($t, args => ['--media-host', 'localhost']);

is_deeply($wa->ready->{media_hosts}, ['localhost:' . $wa->port], 'ready: the media host, named as asked, on the plain listener');
my $mc = $wa->media_conn(ttl => 60, auth_ttl => 120);
is_deeply([@$mc{qw(ttl auth_ttl)}], [60, 120], 'media_conn: ttl and auth_ttl set');
is_deeply($wa->media_conn(hosts => ['mmg.example:443'])->{hosts}, ['mmg.example:443'], 'hosts replaced');
is_deeply($wa->media_conn(hosts => undef)->{hosts}, ['localhost:' . $wa->port], 'and back to the mock\'s own');
is($wa->media_conn(expire_auth => 1)->{expired_auths}, 0, 'no auth given yet to expire');

is_deeply($wa->media_fail(count => 2, op => 'download', status => 502), { count => 2, op => 'download', mode => 'status', status => 502 },
          'media_fail armed');
is($wa->media_fail(count => 0)->{count}, 0, 'and disarmed');
is_deeply($wa->media_serve(mode => 'corrupt', count => 3), { count => 3, mode => 'corrupt', path => undef }, 'media_serve armed');
is($wa->media_serve(mode => 'full')->{mode}, 'full', 'and back to whole bodies');
is_deeply($wa->media_retry_answer('3EB0AA', 'not_found'), { id => '3EB0AA', result => 'not_found' }, 'media_retry_answer');

my ($code, $body) = $wa->control('media-fail', { op => 'sideways' });
is($code, 400, 'media-fail: an unknown op is refused');
($code, $body) = $wa->control('media-serve', { mode => 'sideways' });
is($code, 400, 'media-serve: an unknown mode is refused');
($code, $body) = $wa->control('media-expire', { direct_path => '/v/t62.7118-24/1_2_n.enc?oh=x' });
is($code, 400, 'media-expire: a blob the mock does not have');
like($body->{error}, qr{no blob /v/t62}, 'named');
($code, $body) = $wa->control('media-retry-answer', { id => 'x', result => 'maybe' });
is($code, 400, 'media-retry-answer: an unknown result');

# A media message needs a companion of ours, as a text one does; nothing is uploaded for it.
$wa->wa_contact('4915100000009');
my $since = $wa->last_seq;
ok(!eval { $wa->wa_media_message(from => '4915100000009', kind => 'image', data => 'x' x 100, caption => 'hi'); 1 },
   'wa_media_message: no companion to go to');
like($@, qr/no companion/, 'the mock says why');
is(scalar @{$wa->events(type => 'media-upload', since => $since)}, 0, 'and stored nothing');
ok(!eval { $wa->wa_media_message(from => '4915100000009', kind => 'image'); 1 }, 'wa_media_message wants data or file');

# An upload straight to the host, without an auth from media_conn: 401, recorded.
my $blob = 'y' x 42;
my $token = encode_base64url(sha256($blob));
($code) = $t->http($wa->port, 'POST', "/mms/image/$token?auth=none&token=$token", body => $blob,
                   headers => { 'Origin' => 'https://web.whatsapp.com', 'Content-Type' => 'application/octet-stream' });
is($code, 401, 'an upload with an auth media_conn never gave: 401');
my $ev = $wa->wait(type => 'media-refused', since => $since);
is_deeply([@$ev{qw(op status)}], ['upload', 401], 'event media-refused');
($code) = $t->http($wa->port, 'GET', '/v/t62.7118-24/1_2_n.enc?ccb=11-4&oh=x&hash=abc&mms-type=image&__wa-mms=',
                   headers => { 'Origin' => 'https://web.whatsapp.com' });
is($code, 404, 'a download of an unknown blob: 404');
is($wa->wait(type => 'media-download', since => $since)->{status}, 404, 'event media-download');

is($wa->media_plain('3EB0NONE'), undef, 'media_plain: no media message with that id');

$wa->stop;
done_testing;
