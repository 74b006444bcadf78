(function(){
// rendorix refresh: when a signed image fails (its link expired while the page was open), fetch
// this page again and take the freshly signed URLs of the same image. Never signs anything; each
// image is retried once and the page is fetched at most 3 times.
var fetches=0,page=null,tried=new WeakSet();
function strip(v){return v===null?null:v.replace(/([?&])exp=\d+&kid=[\w-]+&sig=[\w-]{43}/g,'$1').replace(/[?&](?=[#\s,]|$)/g,'');}
function imgs(d){return Array.prototype.filter.call(d.getElementsByTagName('img'),function(e){return !e.closest('noscript');});}
function fresh(){
if(!page){
if(fetches>=3)return Promise.reject();
fetches++;
page=fetch(location.href,{cache:'no-store',credentials:'same-origin'}).then(function(r){if(!r.ok)throw r.status;return r.text();}).then(function(t){return new DOMParser().parseFromString(t,'text/html');});
setTimeout(function(){page=null;},10000);
}
return page;
}
function sources(e){var p=e.parentNode;return p&&p.tagName==='PICTURE'?Array.prototype.filter.call(p.children,function(c){return c.tagName==='SOURCE';}):[];}
document.addEventListener('error',function(ev){
var img=ev.target;
if(!img||img.tagName!=='IMG'||tried.has(img)||!/[?&]sig=/.test(img.currentSrc||img.src))return;
tried.add(img);
var at=imgs(document).indexOf(img);
fresh().then(function(doc){
var now=imgs(doc)[at];
if(!now)return;
var olds=sources(img).concat([img]),news=sources(now).concat([now]);
if(olds.length!==news.length)return;
var i,a,names=['srcset','src'];
for(i=0;i<olds.length;i++)for(a=0;a<2;a++)if(strip(olds[i].getAttribute(names[a]))!==strip(news[i].getAttribute(names[a])))return;
for(i=0;i<olds.length;i++)for(a=0;a<2;a++){var v=news[i].getAttribute(names[a]);if(v!==null&&v!==olds[i].getAttribute(names[a]))olds[i].setAttribute(names[a],v);}
},function(){});
},true);
})();
