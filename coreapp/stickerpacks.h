/* stickerpacks.h - /v1/stickerpacks (spec/API.md §15): third-party
 * stickerpacks and their stickers, kept in PostgreSQL (sql/006_admin.sql).
 *
 * First-party packs (?namespace=whatsapp) are WhatsApp's own and live on its
 * servers, which this installation doesn't reach: listing them answers an
 * empty list, reading one 404/1006, and changing one is refused with 403/1005
 * as the spec says for any first-party pack. Third-party packs get full CRUD:
 *   pack: publisher and name required, at most STICKERPACK_TEXT_MAX characters;
 *         ios_app_store_link https://itunes.apple.com/... or https://apps.apple.com/...,
 *         android_app_store_link https://play.google.com/store/apps/details?id=...
 *   sticker: image_data_id required (a media id, at most 128 characters; not
 *         checked against the media store), emojis optional (at most
 *         STICKER_EMOJIS_MAX strings); at most STICKERPACK_STICKERS_MAX per pack,
 *         indexes "0", "1", ... in order of addition, never reused in a pack.
 * Unknown body keys are ignored (spec/ENVELOPE.md §5). */
#ifndef COREAPP_STICKERPACKS_H
#define COREAPP_STICKERPACKS_H

struct coreapp;

#define STICKERPACK_TEXT_MAX     128
#define STICKERPACK_LINK_MAX     512
#define STICKERPACK_STICKERS_MAX 30
#define STICKER_EMOJIS_MAX       3

/* Registers the stickerpacks command (all ten routes share it). */
void stickerpacks_init(struct coreapp *app);

#endif /* COREAPP_STICKERPACKS_H */
